//! Why a run was asked to end before its last iteration. The first cause wins: a stop order
//! after early stopping already ended training changes nothing, and vice versa.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use trainyard_engine::train::StopToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCause {
    /// A stop order for this attempt: it ends `stopped`.
    Requested,
    /// The worker is shutting down: the attempt ends `failed` (`worker.shutdown`).
    Shutdown,
    /// The template's early-stopping rule: the model is exported as if training had finished.
    EarlyStopping,
}

impl StopCause {
    fn code(self) -> u8 {
        match self {
            Self::Requested => 1,
            Self::Shutdown => 2,
            Self::EarlyStopping => 3,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Requested),
            2 => Some(Self::Shutdown),
            3 => Some(Self::EarlyStopping),
            _ => None,
        }
    }
}

/// The engine's stop token with the cause that set it.
#[derive(Debug, Clone, Default)]
pub struct Stopper {
    token: StopToken,
    cause: Arc<AtomicU8>,
}

impl Stopper {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the run to stop; false when it was already asked (the first cause stays).
    pub fn stop(&self, cause: StopCause) -> bool {
        let first = self
            .cause
            .compare_exchange(0, cause.code(), Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        self.token.stop();
        first
    }

    pub fn cause(&self) -> Option<StopCause> {
        StopCause::from_code(self.cause.load(Ordering::SeqCst))
    }

    pub fn token(&self) -> StopToken {
        self.token.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_cause_wins_and_every_cause_stops_the_engine() {
        let stopper = Stopper::new();
        assert_eq!(stopper.cause(), None);
        assert!(stopper.stop(StopCause::EarlyStopping));
        assert!(!stopper.stop(StopCause::Requested));
        assert_eq!(stopper.cause(), Some(StopCause::EarlyStopping));
        assert!(stopper.token().is_stopped());
    }
}
