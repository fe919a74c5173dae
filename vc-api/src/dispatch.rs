//! Routing decoded events to handlers (features `webhook` and `long-connection`): one typed
//! async handler per event type, a fallback for every event no typed handler takes (event types
//! this version does not know included), and [`EventDispatcher::dispatch_once`], the one path
//! from a decoded event to its outcome that both transports take.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;

use crate::event_memory::{Claim, ClaimGuard, EventMemory, MemoryError};
use crate::events::{Event, EventHeader};
use crate::types;

/// What a handler returns when it fails; the transport reports the failure to the platform
/// (HTTP 500, or an acknowledgement with code 500), which delivers the event again later.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Declares a refusal enum (`DispatchError`, the HTTP receiver's `WebhookError`) with the
/// variants of a failed dispatch written once: `Handler`, `HandlerPanicked`, `InFlight` and
/// `Memory`, placed after the enum's own first variants and before those of `after { … }`.
/// `From<DispatchError> for WebhookError` maps them variant for variant.
macro_rules! refusal_enum {
    (
        $(#[$attr:meta])*
        pub enum $name:ident { $($before:tt)* }
        $(after { $($after:tt)* })?
    ) => {
        $(#[$attr])*
        pub enum $name {
            $($before)*
            /// A handler returned an error; the platform will deliver the event again.
            #[error("the handler of {event_type} (event {event_id}) failed")]
            Handler {
                /// The event's type.
                event_type: String,
                /// The event's id.
                event_id: String,
                /// The handler's error.
                #[source]
                source: $crate::dispatch::HandlerError,
            },
            /// A handler panicked; the platform will deliver the event again.
            #[error("the handler of {event_type} (event {event_id}) panicked")]
            HandlerPanicked {
                /// The event's type.
                event_type: String,
                /// The event's id.
                event_id: String,
            },
            /// The same event is being handled right now (a redelivery overtook the first delivery);
            /// refused so that the platform delivers it again after the first one has finished.
            #[error("event {event_id} is already being handled")]
            InFlight {
                /// The event's id.
                event_id: String,
            },
            /// The memory of recent deliveries refused: full of keys that may still come again, or
            /// its store is unreachable. Refused rather than risk running a handler twice.
            #[error("the memory of recent deliveries cannot take this one")]
            Memory(#[source] $crate::event_memory::MemoryError),
            $($($after)*)?
        }
    };
}
#[cfg(feature = "webhook")]
pub(crate) use refusal_enum;

refusal_enum! {
    /// Why [`EventDispatcher::dispatch_once`] did not complete an event. Each transport turns it
    /// into its own refusal (the HTTP receiver: its `WebhookError` and an HTTP status; the
    /// long connection: an acknowledgement code); [`status`](Self::status) is the code both use.
    #[derive(Debug, thiserror::Error)]
    #[non_exhaustive]
    pub enum DispatchError {
        /// The event cannot be taken (its id is too long to remember).
        #[error("malformed delivery: {0}")]
        Malformed(String),
    }
}

impl DispatchError {
    /// The HTTP-style status of the refusal: 400 for an event that cannot be taken, 500 for a
    /// failed or panicked handler, 503 for an event to deliver again later (in flight, memory
    /// full or unreachable).
    pub fn status(&self) -> u16 {
        match self {
            DispatchError::Malformed(_) => 400,
            DispatchError::Handler { .. } | DispatchError::HandlerPanicked { .. } => 500,
            DispatchError::InFlight { .. } | DispatchError::Memory(_) => 503,
        }
    }

    /// A memory failure: an over-long key is a malformed delivery, anything else a refusal.
    pub(crate) fn memory(error: MemoryError) -> Self {
        match error {
            MemoryError::KeyTooLong { .. } => DispatchError::Malformed(error.to_string()),
            other => DispatchError::Memory(other),
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
type Handler = Arc<dyn Fn(EventHeader, Event) -> BoxFuture<Result<(), HandlerError>> + Send + Sync>;

/// A payload type with its own [`Event`] variant, so that a handler can take it directly
/// (see [`EventDispatcher::on`]).
pub trait TypedEvent: Sized + Send + 'static {
    /// The `header.event_type` of this payload, such as `vc.meeting.meeting_started_v1`.
    const EVENT_TYPE: &'static str;

    /// The payload, if `event` is this variant; otherwise the event unchanged.
    fn from_event(event: Event) -> Result<Self, Event>;
}

/// Implements [`TypedEvent`] for each payload type of the [`Event`] enum.
macro_rules! typed_events {
    ($($variant:ident($payload:ident) = $event_type:literal,)*) => {
        $(
            impl TypedEvent for types::$payload {
                const EVENT_TYPE: &'static str = $event_type;

                fn from_event(event: Event) -> Result<Self, Event> {
                    match event {
                        Event::$variant(payload) => Ok(*payload),
                        other => Err(other),
                    }
                }
            }
        )*

        /// Every event type with a [`TypedEvent`] payload (generated from the spec; checked against `Event::EVENT_TYPES`).
        #[cfg(test)]
        const TYPED_EVENT_TYPES: &[&str] = &[$($event_type),*];
    };
}

crate::generated::events::with_event_variants!(typed_events);

/// Which handler took an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dispatched {
    /// The typed handler registered for its event type.
    Typed,
    /// The fallback handler.
    Fallback,
    /// No handler: the event is acknowledged and dropped.
    Unhandled,
}

/// What became of an event given to [`EventDispatcher::dispatch_once`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Handled {
    /// Its event id was new: a handler ran (or none was registered) and succeeded.
    Ran(Dispatched),
    /// Its event id was handled before; nothing ran.
    Duplicate,
}

/// The handler setters of a receiver's builder (the HTTP receiver's and the long
/// connection's), written once: `dispatcher`, `on` and `fallback` on a builder whose
/// `dispatcher` field is an [`EventDispatcher`]. Expanded inside the builder's `impl` block.
macro_rules! handler_setters {
    () => {
        /// Replaces the dispatcher (the handlers), e.g. one shared with another transport.
        pub fn dispatcher(mut self, dispatcher: $crate::dispatch::EventDispatcher) -> Self {
            self.dispatcher = dispatcher;
            self
        }

        /// Registers a typed handler: see [`EventDispatcher::on`](crate::dispatch::EventDispatcher::on).
        pub fn on<T, F, Fut>(mut self, handler: F) -> Self
        where
            T: $crate::dispatch::TypedEvent,
            F: Fn($crate::events::EventHeader, T) -> Fut + Send + Sync + 'static,
            Fut: ::std::future::Future<Output = Result<(), $crate::dispatch::HandlerError>> + Send + 'static,
        {
            self.dispatcher = self.dispatcher.on(handler);
            self
        }

        /// Registers the fallback handler: see
        /// [`EventDispatcher::fallback`](crate::dispatch::EventDispatcher::fallback).
        pub fn fallback<F, Fut>(mut self, handler: F) -> Self
        where
            F: Fn($crate::events::EventHeader, $crate::events::Event) -> Fut + Send + Sync + 'static,
            Fut: ::std::future::Future<Output = Result<(), $crate::dispatch::HandlerError>> + Send + 'static,
        {
            self.dispatcher = self.dispatcher.fallback(handler);
            self
        }
    };
}
pub(crate) use handler_setters;

/// Async handlers by event type, plus a fallback.
///
/// A typed handler receives the event's header (its `token` removed) and the payload type of
/// its event; the fallback receives every other event as an [`Event`], [`Event::Unknown`]
/// included. A handler that returns an error makes the receiver answer HTTP 500, so the
/// platform delivers the event again. The platform expects an answer within a few seconds:
/// hand long work to a task or a queue instead of awaiting it in the handler.
///
/// ```
/// use vc_api::events::Event;
/// use vc_api::types::MeetingMeetingStartedV1Event;
/// use vc_api::dispatch::EventDispatcher;
///
/// let dispatcher = EventDispatcher::new()
///     .on(|header, started: MeetingMeetingStartedV1Event| async move {
///         println!("meeting started ({}): {started:?}", header.event_id);
///         Ok(())
///     })
///     .fallback(|header, event: Event| async move {
///         println!("unhandled {} ({})", event.event_type(), header.event_id);
///         Ok(())
///     });
/// assert!(dispatcher.has_handler("vc.meeting.meeting_started_v1"));
/// ```
#[derive(Clone, Default)]
pub struct EventDispatcher {
    typed: HashMap<&'static str, Handler>,
    fallback: Option<Handler>,
}

impl EventDispatcher {
    /// A dispatcher without handlers: every event is acknowledged and dropped.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the handler of the events whose payload is `T` (replacing an earlier one).
    pub fn on<T, F, Fut>(mut self, handler: F) -> Self
    where
        T: TypedEvent,
        F: Fn(EventHeader, T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |header, event| match T::from_event(event) {
            Ok(payload) => Box::pin(handler(header, payload)),
            Err(other) => {
                let message = format!("a {} event reached the handler of {}", other.event_type(), T::EVENT_TYPE);
                Box::pin(async move { Err(message.into()) })
            }
        });
        self.typed.insert(T::EVENT_TYPE, handler);
        self
    }

    /// Registers the handler of every event without a typed handler, unknown types included.
    pub fn fallback<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(EventHeader, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.fallback = Some(Arc::new(move |header, event| Box::pin(handler(header, event))));
        self
    }

    /// Whether a typed handler is registered for `event_type`.
    pub fn has_handler(&self, event_type: &str) -> bool {
        self.typed.contains_key(event_type)
    }

    /// Runs the handler that takes this event and says which one it was.
    pub async fn dispatch(&self, header: EventHeader, event: Event) -> Result<Dispatched, HandlerError> {
        if let Some(handler) = self.typed.get(event.event_type()) {
            handler(header, event).await?;
            Ok(Dispatched::Typed)
        } else if let Some(fallback) = &self.fallback {
            fallback(header, event).await?;
            Ok(Dispatched::Fallback)
        } else {
            Ok(Dispatched::Unhandled)
        }
    }

    /// Runs the event's handler at most once per event id, whatever the transport it came by:
    /// the one path from a decoded event to an answer.
    ///
    /// The event id is claimed in `memory`. A new id runs its handler; when the handler
    /// succeeds the id is remembered as done for `retention`, and redeliveries are
    /// [`Handled::Duplicate`]. When the handler fails, panics, or this future is dropped before
    /// it finishes, the id is forgotten so that the platform's redelivery runs it again. A
    /// delivery that arrives while the same id is still being handled is refused with
    /// [`DispatchError::InFlight`] (answered 503; the platform delivers it again later), never
    /// acknowledged as done.
    pub async fn dispatch_once(
        &self,
        memory: &Arc<dyn EventMemory>,
        retention: Duration,
        header: EventHeader,
        event: Event,
    ) -> Result<Handled, DispatchError> {
        let (event_id, event_type) = (header.event_id.clone(), header.event_type.clone());
        let guard = match ClaimGuard::claim(memory, event_key(&event_id), retention).await {
            Ok(Ok(guard)) => guard,
            Ok(Err(Claim::InFlight)) => return Err(DispatchError::InFlight { event_id }),
            Ok(Err(_)) => return Ok(Handled::Duplicate),
            Err(error) => return Err(DispatchError::memory(error)),
        };
        match std::panic::AssertUnwindSafe(self.dispatch(header, event)).catch_unwind().await {
            Ok(Ok(dispatched)) => {
                guard.complete(retention).await.map_err(DispatchError::memory)?;
                Ok(Handled::Ran(dispatched))
            }
            Ok(Err(source)) => Err(DispatchError::Handler { event_type, event_id, source }),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(event_id, event_type, panic = message, "vc_api.dispatch: event handler panicked");
                Err(DispatchError::HandlerPanicked { event_type, event_id })
            }
        }
    }
}

tokio::task_local! {
    /// The JSON bytes of the event whose handler runs, when the transport provides them.
    static DELIVERED: Arc<[u8]>;
}

/// The JSON of the event whose handler is running, as delivered: the long connection's
/// reassembled payload, byte for byte, for a handler that forwards or archives events unchanged
/// (`vc events listen` prints it). `None` outside a handler, and for the HTTP receiver, whose
/// handlers get the decoded event only.
///
/// The text includes the `header.token` the platform put in it: treat it as a secret (the
/// decoded [`EventHeader`] handlers get has it removed).
pub fn delivered_json() -> Option<Arc<[u8]>> {
    DELIVERED.try_with(Arc::clone).ok()
}

/// Runs `dispatching` with `json` as [`delivered_json`].
#[cfg(feature = "long-connection")]
pub(crate) async fn with_delivered<F: Future>(json: Arc<[u8]>, dispatching: F) -> F::Output {
    DELIVERED.scope(json, dispatching).await
}

/// The memory key of an event id.
pub(crate) fn event_key(event_id: &str) -> String {
    format!("event:{event_id}")
}

impl fmt::Debug for EventDispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut typed: Vec<&str> = self.typed.keys().copied().collect();
        typed.sort_unstable();
        f.debug_struct("EventDispatcher").field("typed", &typed).field("fallback", &self.fallback.is_some()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::value::RawValue;

    use super::*;

    fn header(event_type: &str) -> EventHeader {
        EventHeader::builder().event_id("e1").event_type(event_type).try_into().unwrap()
    }

    fn event(event_type: &str) -> Event {
        Event::decode(event_type, &RawValue::from_string("{}".to_owned()).unwrap()).unwrap()
    }

    #[test]
    fn every_event_variant_has_a_typed_payload() {
        let mut listed = TYPED_EVENT_TYPES.to_vec();
        let mut variants = Event::EVENT_TYPES.to_vec();
        listed.sort_unstable();
        variants.sort_unstable();
        assert_eq!(listed, variants, "every event variant has a TypedEvent payload");
    }

    #[tokio::test]
    async fn typed_handlers_fallback_and_unhandled() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (typed_seen, fallback_seen) = (seen.clone(), seen.clone());
        let dispatcher = EventDispatcher::new()
            .on(move |h, _: types::MeetingMeetingEndedV1Event| {
                typed_seen.lock().unwrap().push(format!("typed {}", h.event_type));
                async { Ok(()) }
            })
            .fallback(move |_, e: Event| {
                fallback_seen.lock().unwrap().push(format!("fallback {}", e.event_type()));
                async { Ok(()) }
            });
        let ended = "vc.meeting.meeting_ended_v1";
        let started = "vc.meeting.meeting_started_v1";
        assert_eq!(dispatcher.dispatch(header(ended), event(ended)).await.unwrap(), Dispatched::Typed);
        assert_eq!(dispatcher.dispatch(header(started), event(started)).await.unwrap(), Dispatched::Fallback);
        assert_eq!(dispatcher.dispatch(header("x.new"), event("x.new")).await.unwrap(), Dispatched::Fallback);
        assert_eq!(
            *seen.lock().unwrap(),
            [format!("typed {ended}"), format!("fallback {started}"), "fallback x.new".to_owned()]
        );
        assert_eq!(EventDispatcher::new().dispatch(header("x"), event("x")).await.unwrap(), Dispatched::Unhandled);
    }

    #[tokio::test]
    async fn a_handler_error_is_returned() {
        let dispatcher = EventDispatcher::new().fallback(|_, _| async { Err("boom".into()) });
        let err = dispatcher.dispatch(header("x"), event("x")).await.unwrap_err();
        assert_eq!(err.to_string(), "boom");
        assert!(format!("{dispatcher:?}").contains("fallback: true"));
    }
}
