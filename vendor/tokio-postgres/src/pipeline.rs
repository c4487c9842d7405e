//! tenantpos's addition to tokio-postgres (see `PATCHED.md` at the crate's root): several
//! statements under one Sync.
//!
//! Every other query of this crate ends with a Sync, so PostgreSQL answers each statement as a
//! message of its own, flushed to the socket, and the client may wake for each. Under one Sync
//! it answers them all at once. PostgreSQL also runs the statements before a Sync as one
//! implicit transaction, unless one of them is `BEGIN`: a failing statement makes it skip the
//! rest until the Sync, and the Sync rolls the implicit transaction back, or commits it.

use crate::client::{InnerClient, Responses};
use crate::codec::FrontendMessage;
use crate::connection::RequestMessages;
use crate::prepare::get_type;
use crate::query::{RowStream, encode_bind, encode_bind_raw};
use crate::types::{ToSql, Type};
use crate::{Column, Error, Row, Statement};
use futures_util::TryStreamExt;
use std::pin::pin;
use fallible_iterator::FallibleIterator;
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use std::sync::Arc;

/// One statement of a pipeline, and its parameters.
#[derive(Clone, Copy)]
pub enum PipelineStep<'a> {
    /// A statement prepared on this connection.
    Prepared {
        /// The statement.
        statement: &'a Statement,
        /// Its parameters, in order.
        params: &'a [&'a (dyn ToSql + Sync)],
    },
    /// An unnamed statement, parsed in the same round trip, as `Client::query_typed` sends it.
    Unnamed {
        /// The statement's text.
        query: &'a str,
        /// Its parameters, in order, with their types.
        params: &'a [(&'a (dyn ToSql + Sync), Type)],
    },
}

pub(crate) async fn query_after(
    client: &Arc<InnerClient>,
    before: &[PipelineStep<'_>],
    last: PipelineStep<'_>,
) -> Result<RowStream, Error> {
    let mut responses = send(client, before, last, &[])?;
    skip_answers(&mut responses, before.len()).await?;
    let statement = read_statement(client, &mut responses, last).await?;
    Ok(RowStream::new(statement, responses))
}

pub(crate) async fn query_between(
    client: &Arc<InnerClient>,
    before: &[PipelineStep<'_>],
    step: PipelineStep<'_>,
    after: &[PipelineStep<'_>],
) -> Result<Vec<Row>, Error> {
    let mut responses = send(client, before, step, after)?;
    skip_answers(&mut responses, before.len()).await?;
    let statement = read_statement(client, &mut responses, step).await?;
    let mut rows = Vec::new();
    loop {
        match responses.next().await? {
            Message::DataRow(body) => rows.push(Row::new(statement.clone(), body)?),
            Message::CommandComplete(_) | Message::EmptyQueryResponse => break,
            _ => return Err(Error::unexpected_message()),
        }
    }
    skip_answers(&mut responses, after.len()).await?;
    match responses.next().await? {
        Message::ReadyForQuery(_) => Ok(rows),
        _ => Err(Error::unexpected_message()),
    }
}

/// Sends the steps under one Sync; `read` is the one whose rows are read.
fn send(
    client: &Arc<InnerClient>,
    before: &[PipelineStep<'_>],
    read: PipelineStep<'_>,
    after: &[PipelineStep<'_>],
) -> Result<Responses, Error> {
    let buf = client.with_buf(|buf| {
        for step in before {
            encode_step(step, false, buf)?;
        }
        encode_step(&read, true, buf)?;
        for step in after {
            encode_step(step, false, buf)?;
        }
        frontend::sync(buf);
        Ok(buf.split().freeze())
    })?;
    client.send(RequestMessages::Single(FrontendMessage::Raw(buf)))
}

/// The answers of `steps` steps whose rows are not read: dropped. A failure is the pipeline's.
async fn skip_answers(responses: &mut Responses, steps: usize) -> Result<(), Error> {
    let mut left = steps;
    while left > 0 {
        match responses.next().await? {
            Message::ParseComplete | Message::BindComplete | Message::DataRow(_) => {}
            Message::CommandComplete(_) | Message::EmptyQueryResponse => left -= 1,
            _ => return Err(Error::unexpected_message()),
        }
    }
    Ok(())
}

/// The statement of the step whose rows are read, with its columns (described in the same
/// round trip for an unnamed statement).
async fn read_statement(
    client: &Arc<InnerClient>,
    responses: &mut Responses,
    step: PipelineStep<'_>,
) -> Result<Statement, Error> {
    match step {
        PipelineStep::Prepared { statement, .. } => {
            match responses.next().await? {
                Message::BindComplete => {}
                _ => return Err(Error::unexpected_message()),
            }
            Ok(statement.clone())
        }
        PipelineStep::Unnamed { .. } => loop {
            match responses.next().await? {
                Message::ParseComplete
                | Message::BindComplete
                | Message::ParameterDescription(_) => {}
                Message::NoData => break Ok(Statement::unnamed(vec![], vec![])),
                Message::RowDescription(row_description) => {
                    let mut columns = vec![];
                    let mut fields = row_description.fields();
                    while let Some(field) = fields.next().map_err(Error::parse)? {
                        columns.push(Column {
                            name: field.name().to_string(),
                            table_oid: Some(field.table_oid()).filter(|n| *n != 0),
                            column_id: Some(field.column_id()).filter(|n| *n != 0),
                            type_modifier: field.type_modifier(),
                            r#type: get_type(client, field.type_oid()).await?,
                        });
                    }
                    break Ok(Statement::unnamed(vec![], columns));
                }
                _ => return Err(Error::unexpected_message()),
            }
        },
    }
}

/// Bind and Execute (Parse first for an unnamed statement, and Describe for the step whose
/// rows are read), with no Sync.
fn encode_step(
    step: &PipelineStep<'_>,
    is_read: bool,
    buf: &mut bytes::BytesMut,
) -> Result<(), Error> {
    match *step {
        PipelineStep::Prepared { statement, params } => {
            encode_bind(statement, params.iter().copied(), "", buf)?;
        }
        PipelineStep::Unnamed { query, params } => {
            let param_oids = params.iter().map(|(_, t)| t.oid()).collect::<Vec<_>>();
            frontend::parse("", query, param_oids, buf).map_err(Error::parse)?;
            encode_bind_raw("", params.iter().map(|(p, t)| (*p, t.clone())), "", buf)?;
            if is_read {
                frontend::describe(b'S', "", buf).map_err(Error::encode)?;
            }
        }
    }
    frontend::execute("", 0, buf).map_err(Error::encode)
}

impl RowStream {
    /// The one row of this stream, or an error if it has none or more than one (as
    /// `Client::query_one`), for the rows of `Client::query_after`.
    pub async fn one(self) -> Result<Row, Error> {
        self.opt().await?.ok_or_else(Error::row_count)
    }

    /// The row of this stream, if any, or an error if it has more than one (as
    /// `Client::query_opt`).
    pub async fn opt(self) -> Result<Option<Row>, Error> {
        let mut stream = pin!(self);
        let mut first = None;
        while let Some(row) = stream.try_next().await? {
            if first.is_some() {
                return Err(Error::row_count());
            }
            first = Some(row);
        }
        Ok(first)
    }
}
