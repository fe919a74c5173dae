//! The one-call export workflow: submit any of the four exports, poll the task with backoff
//! until it is done, failed or past a deadline, then stream the file through `export_download`.
//!
//! ```no_run
//! # async fn demo(client: vc_api::Client) -> Result<(), vc_api::Error> {
//! use std::time::Duration;
//! use vc_api::types::ExportMeetingListRequest;
//!
//! let request: ExportMeetingListRequest = ExportMeetingListRequest::builder()
//!     .start_time("1655276858")
//!     .end_time("1655276958")
//!     .try_into()
//!     .expect("a valid request");
//! let outcome = client
//!     .export(request)
//!     .deadline(Duration::from_secs(300))
//!     .save("meetings.xlsx", |bytes| eprintln!("{bytes} bytes so far"))
//!     .await?;
//! println!("task {} wrote {} bytes", outcome.file.task_id, outcome.bytes);
//! # Ok(()) }
//! ```

use std::path::Path;
use std::time::Duration;

use tokio::io::AsyncWrite;

use crate::call::CallOptions;
use crate::download::Download;
use crate::error::Error;
use crate::generated::client::Client;
use crate::types;

/// One of the four export requests. Each export operation's request body converts into it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ExportRequest {
    /// `export_meeting_list`: meeting details.
    MeetingList(types::ExportMeetingListRequest),
    /// `export_participant_list`: the participants of one meeting.
    ParticipantList(types::ExportParticipantListRequest),
    /// `export_participant_quality_list`: one participant's call quality.
    ParticipantQualityList(types::ExportParticipantQualityListRequest),
    /// `export_resource_reservation_list`: room reservations.
    ResourceReservationList(types::ExportResourceReservationListRequest),
}

macro_rules! export_request_from {
    ($($variant:ident($body:ident)),*) => {$(
        impl From<types::$body> for ExportRequest {
            fn from(body: types::$body) -> Self {
                ExportRequest::$variant(body)
            }
        }
    )*};
}

export_request_from!(
    MeetingList(ExportMeetingListRequest),
    ParticipantList(ExportParticipantListRequest),
    ParticipantQualityList(ExportParticipantQualityListRequest),
    ResourceReservationList(ExportResourceReservationListRequest)
);

impl ExportRequest {
    /// The operations that submit an export, one per variant.
    pub const OPERATIONS: [&'static str; 4] = [
        "export_meeting_list",
        "export_participant_list",
        "export_participant_quality_list",
        "export_resource_reservation_list",
    ];

    /// The export request of operation `operation` (one of [`OPERATIONS`](Self::OPERATIONS))
    /// from its JSON body, for tools that know the operation only by name. Fails with
    /// [`Error::InvalidRequest`] for another operation or a body that does not match the
    /// request schema.
    pub fn from_json(operation: &str, body: serde_json::Value) -> Result<Self, Error> {
        fn decode<T: serde::de::DeserializeOwned>(id: &'static str, body: serde_json::Value) -> Result<T, Error> {
            serde_json::from_value(body).map_err(|e| Error::InvalidRequest {
                operation: id,
                message: format!("the request body does not match: {e}"),
            })
        }
        Ok(match operation {
            "export_meeting_list" => ExportRequest::MeetingList(decode("export_meeting_list", body)?),
            "export_participant_list" => ExportRequest::ParticipantList(decode("export_participant_list", body)?),
            "export_participant_quality_list" => {
                ExportRequest::ParticipantQualityList(decode("export_participant_quality_list", body)?)
            }
            "export_resource_reservation_list" => {
                ExportRequest::ResourceReservationList(decode("export_resource_reservation_list", body)?)
            }
            _ => {
                return Err(Error::InvalidRequest {
                    operation: "export",
                    message: format!("{operation} is not an export operation; expected one of {:?}", Self::OPERATIONS),
                });
            }
        })
    }

    /// The operation that submits this export.
    pub fn operation_id(&self) -> &'static str {
        let index = match self {
            ExportRequest::MeetingList(_) => 0,
            ExportRequest::ParticipantList(_) => 1,
            ExportRequest::ParticipantQualityList(_) => 2,
            ExportRequest::ResourceReservationList(_) => 3,
        };
        Self::OPERATIONS[index]
    }
}

/// How the task is polled: the first wait, doubling up to `max_delay`, until `deadline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportPolling {
    /// Wait before the first status check (default 1 s).
    pub first_delay: Duration,
    /// Longest wait between two checks (default 10 s).
    pub max_delay: Duration,
    /// Give up (with [`Error::ExportDeadline`]) when the task is not done after this long
    /// (default 10 minutes).
    pub deadline: Duration,
}

impl Default for ExportPolling {
    fn default() -> Self {
        ExportPolling {
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
            deadline: Duration::from_secs(600),
        }
    }
}

/// A finished export task: where its file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFile {
    /// The export task.
    pub task_id: String,
    /// The token to download the file with (`export_download`).
    pub file_token: String,
    /// The download address the API reported, if any.
    pub url: Option<String>,
}

/// What a whole export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOutcome {
    /// The finished task and its file.
    pub file: ExportedFile,
    /// Bytes written.
    pub bytes: u64,
}

/// An export to run: configure it, then call [`save`](Self::save), [`write_to`](Self::write_to),
/// [`download`](Self::download) or [`wait`](Self::wait). Made by [`Client::export`].
#[derive(Debug, Clone)]
#[must_use = "an export does nothing until it is run"]
pub struct ExportJob<'a> {
    client: &'a Client,
    task: Task,
    user_id_type: Option<types::UserIdType>,
    options: CallOptions,
    polling: ExportPolling,
}

#[derive(Debug, Clone)]
enum Task {
    Submit(ExportRequest),
    Existing(String),
}

impl Client {
    /// Starts an export workflow for `request` (any of the four export request bodies).
    pub fn export(&self, request: impl Into<ExportRequest>) -> ExportJob<'_> {
        self.export_job(Task::Submit(request.into()))
    }

    /// Follows an export task submitted earlier (for example by another process): polls it
    /// and downloads its file like [`Client::export`] does.
    pub fn resume_export(&self, task_id: impl Into<String>) -> ExportJob<'_> {
        self.export_job(Task::Existing(task_id.into()))
    }

    fn export_job(&self, task: Task) -> ExportJob<'_> {
        ExportJob {
            client: self,
            task,
            user_id_type: None,
            options: CallOptions::default(),
            polling: ExportPolling::default(),
        }
    }
}

impl<'a> ExportJob<'a> {
    /// The kind of user ID the request uses (ignored by the resource reservation export, which
    /// has none).
    pub fn user_id_type(mut self, user_id_type: types::UserIdType) -> Self {
        self.user_id_type = Some(user_id_type);
        self
    }

    /// Per-call options (an explicit access token, a tenant key) for every request of the workflow.
    pub fn options(mut self, options: CallOptions) -> Self {
        self.options = options;
        self
    }

    /// The whole polling policy.
    pub fn polling(mut self, polling: ExportPolling) -> Self {
        self.polling = polling;
        self
    }

    /// Gives up when the task is not done after `deadline`.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.polling.deadline = deadline;
        self
    }

    /// Submits the export (unless it follows an existing task) and returns the task ID.
    pub async fn submit(&self) -> Result<String, Error> {
        let request = match &self.task {
            Task::Existing(task_id) => return Ok(task_id.clone()),
            Task::Submit(request) => request,
        };
        let (client, options) = (self.client, self.options.clone());
        let user_id_type = self.user_id_type.clone();
        let task_id = match request.clone() {
            ExportRequest::MeetingList(body) => {
                let call = client.export_meeting_list().body(body);
                let call = match user_id_type {
                    Some(kind) => call.user_id_type(kind),
                    None => call,
                };
                call.data_with(options).await?.task_id
            }
            ExportRequest::ParticipantList(body) => {
                let call = client.export_participant_list().body(body);
                let call = match user_id_type {
                    Some(kind) => call.user_id_type(kind),
                    None => call,
                };
                call.data_with(options).await?.task_id
            }
            ExportRequest::ParticipantQualityList(body) => {
                let call = client.export_participant_quality_list().body(body);
                let call = match user_id_type {
                    Some(kind) => call.user_id_type(kind),
                    None => call,
                };
                call.data_with(options).await?.task_id
            }
            ExportRequest::ResourceReservationList(body) => {
                client.export_resource_reservation_list().body(body).data_with(options).await?.task_id
            }
        };
        task_id.filter(|id| !id.is_empty()).ok_or_else(|| Error::ExportFailed {
            task_id: String::new(),
            message: "the export was accepted but no task_id came back".to_owned(),
        })
    }

    /// Submits the export and polls it until it is done; returns where its file is.
    ///
    /// Every error after the submission names the task (see [`Error::export_task_id`]):
    /// [`Error::ExportFailed`], [`Error::ExportDeadline`], or [`Error::Export`] wrapping what
    /// failed, so the caller can [resume](Client::resume_export) the task instead of
    /// submitting a duplicate. A caller that may drop this future (a timeout, a shutdown)
    /// should call [`submit`](Self::submit) first, keep the id, and follow it with
    /// [`Client::resume_export`].
    pub async fn wait(self) -> Result<ExportedFile, Error> {
        let task_id = self.submit().await?;
        self.poll(task_id).await
    }

    /// Polls task `task_id` until it is done, failed or past the deadline.
    async fn poll(&self, task_id: String) -> Result<ExportedFile, Error> {
        let polling = self.polling;
        let started = tokio::time::Instant::now();
        let mut delay = polling.first_delay;
        loop {
            // The last wait is cut short so that the final check happens at the deadline.
            let remaining = polling.deadline.saturating_sub(started.elapsed());
            tokio::time::sleep(delay.min(remaining)).await;
            delay = delay.saturating_mul(2).min(polling.max_delay);
            let checked = self.client.export_get().task_id(task_id.as_str()).data_with(self.options.clone()).await;
            let data = checked.map_err(|source| export_error(&task_id, None, source))?;
            match data.status {
                Some(types::ExportTaskStatus::Done) => {
                    let file_token = data.file_token.filter(|t| !t.is_empty()).ok_or_else(|| Error::ExportFailed {
                        task_id: task_id.clone(),
                        message: "done without a file_token".to_owned(),
                    })?;
                    return Ok(ExportedFile { task_id, file_token, url: data.url });
                }
                Some(types::ExportTaskStatus::Failed) => {
                    let message = data.fail_msg.filter(|m| !m.is_empty()).unwrap_or_else(|| "no reason given".into());
                    return Err(Error::ExportFailed { task_id, message });
                }
                // Still processing, or a state this version does not know: keep waiting.
                _ => {}
            }
            let waited = started.elapsed();
            if waited >= polling.deadline {
                return Err(Error::ExportDeadline { task_id, waited });
            }
        }
    }

    /// Runs the export and opens its file for download (nothing of the body is read yet).
    pub async fn download(self) -> Result<(ExportedFile, Download), Error> {
        let (client, options) = (self.client, self.options.clone());
        let file = self.wait().await?;
        let download = client.export_download().file_token(file.file_token.as_str()).data_with(options).await;
        let download = download.map_err(|source| file.error(source))?;
        Ok((file, download))
    }

    /// Runs the export and streams its file into `writer`, calling `progress` with the bytes
    /// written so far.
    pub async fn write_to<W>(self, writer: &mut W, progress: impl FnMut(u64)) -> Result<ExportOutcome, Error>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let (file, download) = self.download().await?;
        let bytes = download.write_to(writer, progress).await.map_err(|source| file.error(source))?;
        Ok(ExportOutcome { file, bytes })
    }

    /// Runs the export and saves its file to `path` (see [`Download::save`]).
    pub async fn save(self, path: impl AsRef<Path>, progress: impl FnMut(u64)) -> Result<ExportOutcome, Error> {
        let (file, download) = self.download().await?;
        let bytes = download.save(path, progress).await.map_err(|source| file.error(source))?;
        Ok(ExportOutcome { file, bytes })
    }
}

impl ExportedFile {
    /// `source` as an error of this task's workflow.
    fn error(&self, source: Error) -> Error {
        export_error(&self.task_id, Some(&self.file_token), source)
    }
}

/// `source`, a failure after task `task_id` was submitted, as an error naming the task.
fn export_error(task_id: &str, file_token: Option<&str>, source: Error) -> Error {
    match source {
        // These name the task already.
        Error::ExportFailed { .. } | Error::ExportDeadline { .. } | Error::Export { .. } => source,
        source => Error::Export {
            task_id: task_id.to_owned(),
            file_token: file_token.map(str::to_owned),
            source: Box::new(source),
        },
    }
}
