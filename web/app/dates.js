// Days and times in the tenant's own timezone (its settings), which decides what "today" is
// for the dashboard and the till alike.

/** The calendar date "YYYY-MM-DD" of `timestamp` in `timeZone`. */
export function dayIn(timestamp, timeZone) {
  const date = timestamp instanceof Date ? timestamp : new Date(timestamp);
  try {
    // en-CA formats dates as YYYY-MM-DD.
    return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(date);
  } catch (failure) {
    return date.toISOString().slice(0, 10);
  }
}

export function todayIn(timeZone) {
  return dayIn(new Date(), timeZone);
}

/** "14:05" in the tenant's timezone. */
export function timeIn(timestamp, timeZone) {
  try {
    return new Intl.DateTimeFormat(undefined, { timeZone, hour: "2-digit", minute: "2-digit" }).format(new Date(timestamp));
  } catch (failure) {
    return String(timestamp);
  }
}

/** A short label for a "YYYY-MM-DD" day: "Mon 3". The date is read as a calendar day, not an instant. */
export function shortDayLabel(day) {
  const [year, month, date] = day.split("-").map(Number);
  const noonUtc = new Date(Date.UTC(year, month - 1, date, 12));
  return new Intl.DateTimeFormat(undefined, { timeZone: "UTC", weekday: "short", day: "numeric" }).format(noonUtc);
}

export function longDayLabel(day) {
  const [year, month, date] = day.split("-").map(Number);
  const noonUtc = new Date(Date.UTC(year, month - 1, date, 12));
  return new Intl.DateTimeFormat(undefined, { timeZone: "UTC", dateStyle: "medium" }).format(noonUtc);
}
