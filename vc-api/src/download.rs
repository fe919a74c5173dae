//! File downloads (`export_download`): the body is streamed chunk by chunk, never buffered whole.

use std::path::{Path, PathBuf};
use std::pin::Pin;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use progenitor_client::ByteStream;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::error::Error;

/// A file being downloaded. Nothing of the body has been read yet: consume it with
/// [`write_to`](Self::write_to), [`save`](Self::save) or [`into_stream`](Self::into_stream).
/// Memory use stays at one network chunk whatever the file's size.
pub struct Download {
    operation: &'static str,
    content_length: Option<u64>,
    content_type: Option<String>,
    file_name: Option<String>,
    log_id: Option<String>,
    body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send + Sync>>,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("operation", &self.operation)
            .field("content_length", &self.content_length)
            .field("content_type", &self.content_type)
            .field("file_name", &self.file_name)
            .field("log_id", &self.log_id)
            .finish_non_exhaustive()
    }
}

impl Download {
    pub(crate) fn new(operation: &'static str, headers: &HeaderMap, body: ByteStream) -> Self {
        let text = |name| headers.get(name).and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok());
        Download {
            operation,
            content_length: text(CONTENT_LENGTH).and_then(|v| v.trim().parse().ok()),
            content_type: text(CONTENT_TYPE).map(str::to_owned),
            file_name: text(CONTENT_DISPOSITION).and_then(file_name_of),
            log_id: crate::response::log_id(headers),
            body: body.into_inner(),
        }
    }

    /// The size the server announced (`Content-Length`), if it did.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// The `Content-Type` the server sent.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// The file name from `Content-Disposition`, if the server sent one. It comes from the
    /// server: sanitise it before using it as a path.
    pub fn file_name(&self) -> Option<&str> {
        self.file_name.as_deref()
    }

    /// The request's log id (`X-Tt-Logid`).
    pub fn log_id(&self) -> Option<&str> {
        self.log_id.as_deref()
    }

    /// The body as a stream of chunks. A transport failure mid-body, or a body shorter than its
    /// `Content-Length`, ends the stream with an error.
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes, Error>> + Send + Sync {
        let Download { operation, content_length, body, .. } = self;
        let state = (body, 0u64, false);
        futures_util::stream::unfold(state, move |(mut body, received, finished)| async move {
            if finished {
                return None;
            }
            match body.next().await {
                Some(Ok(chunk)) => {
                    let received = received + chunk.len() as u64;
                    Some((Ok(chunk), (body, received, false)))
                }
                Some(Err(source)) => {
                    let error = crate::response::transport_error(operation, source);
                    Some((Err(error), (body, received, true)))
                }
                None => match content_length {
                    Some(expected) if expected != received => {
                        let source = std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            format!("the body ended after {received} of {expected} bytes"),
                        );
                        Some((Err(Error::Io { operation, source }), (body, received, true)))
                    }
                    _ => None,
                },
            }
        })
    }

    /// Writes the whole body into `writer`, calling `progress` with the bytes written so far
    /// after each chunk. Returns the number of bytes written.
    pub async fn write_to<W>(self, writer: &mut W, mut progress: impl FnMut(u64)) -> Result<u64, Error>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let operation = self.operation;
        let io = |source| Error::Io { operation, source };
        let mut written = 0u64;
        let mut chunks = std::pin::pin!(self.into_stream());
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            writer.write_all(&chunk).await.map_err(io)?;
            written += chunk.len() as u64;
            progress(written);
        }
        writer.flush().await.map_err(io)?;
        Ok(written)
    }

    /// Saves the body to `path`. The bytes go to a temporary file beside it
    /// (`<path>.<unique>.part`), renamed to `path` only once the whole body has arrived, so a
    /// failed download never leaves a truncated file under the final name. The temporary file
    /// is removed whenever the save does not complete: on an error, and when this future is
    /// dropped (a timeout, a cancelled task). Two saves to the same path never share a
    /// temporary file; the one that finishes last wins.
    pub async fn save(self, path: impl AsRef<Path>, progress: impl FnMut(u64)) -> Result<u64, Error> {
        let operation = self.operation;
        let io = |source| Error::Io { operation, source };
        let path = path.as_ref();
        let (mut file, partial) = PartialFile::create(path).await.map_err(io)?;
        let written = self.write_to(&mut file, progress).await?;
        file.sync_all().await.map_err(io)?;
        drop(file);
        tokio::fs::rename(&partial.path, path).await.map_err(io)?;
        partial.keep();
        Ok(written)
    }
}

/// A temporary file that is removed when dropped, unless [`keep`](Self::keep) says it was
/// renamed into place.
struct PartialFile {
    path: PathBuf,
    armed: bool,
}

impl PartialFile {
    /// Creates a new, empty temporary file beside `target`, under a name no other save uses.
    async fn create(target: &Path) -> std::io::Result<(tokio::fs::File, PartialFile)> {
        loop {
            let path = partial_path(target);
            match tokio::fs::OpenOptions::new().write(true).create_new(true).open(&path).await {
                Ok(file) => return Ok((file, PartialFile { path, armed: true })),
                // Left behind by a process that died: take another name.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if self.armed {
            // A synchronous remove: a drop cannot wait, and unlinking one file is quick.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// `<target>.<process id>-<counter>.part`: unique within the process and across processes.
fn partial_path(target: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = target.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".{}-{unique}.part", std::process::id()));
    target.with_file_name(name)
}

/// The file name of a `Content-Disposition` header: `filename*=UTF-8''…` (percent-decoded)
/// preferred over `filename="…"`.
fn file_name_of(header: &str) -> Option<String> {
    let params = || header.split(';').map(str::trim).filter_map(|p| p.split_once('='));
    let extended = params().find(|(k, _)| k.eq_ignore_ascii_case("filename*")).and_then(|(_, v)| {
        let (charset, rest) = v.split_once('\'')?;
        let (_, encoded) = rest.split_once('\'')?;
        charset.eq_ignore_ascii_case("utf-8").then(|| percent_decode(encoded))?
    });
    extended.or_else(|| {
        params().find(|(k, _)| k.eq_ignore_ascii_case("filename")).map(|(_, v)| v.trim_matches('"').to_owned())
    })
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_come_from_content_disposition() {
        assert_eq!(file_name_of(r#"attachment; filename="report.xlsx""#).as_deref(), Some("report.xlsx"));
        assert_eq!(
            file_name_of("attachment; filename=\"a.xlsx\"; filename*=UTF-8''%E4%BC%9A%E8%AE%AE.xlsx").as_deref(),
            Some("会议.xlsx")
        );
        assert_eq!(file_name_of("attachment; filename*=UTF-8''%ZZ"), None);
        assert_eq!(file_name_of("inline"), None);
    }

    #[test]
    fn partial_files_sit_beside_the_target_under_unique_names() {
        let (a, b) = (partial_path(Path::new("/tmp/x/out.xlsx")), partial_path(Path::new("/tmp/x/out.xlsx")));
        assert_ne!(a, b);
        for partial in [a, b] {
            assert_eq!(partial.parent(), Some(Path::new("/tmp/x")));
            let name = partial.file_name().unwrap().to_str().unwrap();
            assert!(name.starts_with("out.xlsx.") && name.ends_with(".part"), "{name}");
        }
    }
}
