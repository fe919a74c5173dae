//! The baseline: what a user would write with reqwest and serde alone. The same reqwest (same
//! features, same timeouts and user agent as vc-api's client), a bearer header, the body
//! decoded into hand-written structs with the same fields as vc-api's generated types, and
//! `code == 0` checked.

use serde::Deserialize;

/// Any failure of a baseline call.
pub type BaselineError = Box<dyn std::error::Error + Send + Sync>;

/// The `{code, msg, data}` envelope.
#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    /// 0 on success.
    pub code: i64,
    /// The message.
    #[serde(default)]
    pub msg: String,
    /// The payload.
    pub data: Option<T>,
}

/// `data` of `room_level_get`.
#[derive(Debug, Deserialize)]
pub struct RoomLevelGetData {
    /// The level.
    pub room_level: Option<RoomLevel>,
}

/// A room level.
#[derive(Debug, Deserialize)]
pub struct RoomLevel {
    /// The tenant's own ID.
    pub custom_group_id: Option<String>,
    /// Whether levels sit below.
    pub has_child: Option<bool>,
    /// Name.
    pub name: Option<String>,
    /// Parent level.
    pub parent_id: Option<String>,
    /// Path from the root.
    #[serde(default)]
    pub path: Vec<String>,
    /// ID.
    pub room_level_id: Option<String>,
}

/// `data` of `room_list`.
#[derive(Debug, Deserialize)]
pub struct RoomListData {
    /// More pages follow.
    pub has_more: Option<bool>,
    /// Next page's token.
    pub page_token: Option<String>,
    /// The rooms.
    #[serde(default)]
    pub rooms: Vec<Room>,
}

/// A room.
#[derive(Debug, Deserialize)]
pub struct Room {
    /// Capacity.
    pub capacity: Option<i32>,
    /// Tenant-defined ID.
    pub custom_room_id: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Facilities.
    #[serde(default)]
    pub device: Vec<RoomDevice>,
    /// Room number.
    pub display_id: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Level path.
    #[serde(default)]
    pub path: Vec<String>,
    /// ID.
    pub room_id: Option<String>,
    /// Level.
    pub room_level_id: Option<String>,
    /// Status.
    pub room_status: Option<RoomStatus>,
}

/// A facility.
#[derive(Debug, Deserialize)]
pub struct RoomDevice {
    /// Name.
    pub name: Option<String>,
}

/// A room's status.
#[derive(Debug, Deserialize)]
pub struct RoomStatus {
    /// Contacts.
    #[serde(default)]
    pub contact_ids: Vec<String>,
    /// End of the disabled period.
    pub disable_end_time: Option<String>,
    /// Notify on disable.
    pub disable_notice: Option<bool>,
    /// Why disabled.
    pub disable_reason: Option<String>,
    /// Start of the disabled period.
    pub disable_start_time: Option<String>,
    /// Notify on resume.
    pub resume_notice: Option<bool>,
    /// Scheduled state.
    pub schedule_status: Option<bool>,
    /// Enabled.
    pub status: Option<bool>,
}

/// A reqwest client set up as vc-api sets up its own: the same total, connect and read (idle)
/// timeouts (vc-api's defaults), a user agent.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .connect_timeout(std::time::Duration::from_secs(10))
        .read_timeout(std::time::Duration::from_secs(30))
        .user_agent("baseline/0.1")
        .build()
        .expect("reqwest client builds")
}

/// Decodes an envelope and returns its `data` when `code` is 0.
pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, BaselineError> {
    let envelope: Envelope<T> = serde_json::from_slice(body)?;
    match envelope.data {
        Some(data) if envelope.code == 0 => Ok(data),
        _ => Err(format!("code {}: {}", envelope.code, envelope.msg).into()),
    }
}

/// `GET` `path` with the bearer token and decodes the envelope.
pub async fn get<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: String,
    token: &str,
) -> Result<T, BaselineError> {
    let response = http.get(url).bearer_auth(token).header(reqwest::header::ACCEPT, "application/json").send().await?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()).into());
    }
    let body = response.bytes().await?;
    decode(&body)
}

/// `room_level_get`.
pub async fn room_level_get(
    http: &reqwest::Client,
    base_url: &str,
    token: &str,
    room_level_id: &str,
) -> Result<RoomLevelGetData, BaselineError> {
    get(http, format!("{base_url}/open-apis/vc/v1/room_levels/{room_level_id}"), token).await
}

/// Every room of `room_list`, page by page, handed to `each`; returns how many there were.
pub async fn room_list_all(
    http: &reqwest::Client,
    base_url: &str,
    token: &str,
    page_size: usize,
    mut each: impl FnMut(Room),
) -> Result<usize, BaselineError> {
    let mut page_token: Option<String> = None;
    let mut count = 0;
    loop {
        let mut url = format!("{base_url}/open-apis/vc/v1/rooms?page_size={page_size}");
        if let Some(token) = &page_token {
            url.push_str("&page_token=");
            url.push_str(token);
        }
        let page: RoomListData = get(http, url, token).await?;
        count += page.rooms.len();
        page.rooms.into_iter().for_each(&mut each);
        match (page.has_more, page.page_token) {
            (Some(true), Some(next)) if !next.is_empty() => page_token = Some(next),
            _ => return Ok(count),
        }
    }
}
