//! Giving freed heap back to the kernel after a burst. Starting or reloading thousands of
//! groups allocates transient plans, parsed settings and hook jobs that are freed once the
//! groups run; the allocator keeps such pages resident unless told to return them.

/// Returns the heap's free pages to the kernel (glibc's `malloc_trim`); nothing elsewhere.
pub fn release_free_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers and only releases memory the allocator holds
    // free; it is safe to call at any time from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Jobs finished since the last release before a quiet loop releases again: a takeover of
/// many groups spawns one job each, a lone group's transition is not worth a heap walk.
const BURST: u32 = 64;
/// How long no job may have finished before the burst counts as over.
const QUIET: std::time::Duration = std::time::Duration::from_millis(500);

/// Releases free pages once a burst of hook jobs is over.
#[derive(Debug, Default)]
pub struct AfterBursts {
    /// jobs finished since the last release
    finished: u32,
    /// when the last one finished
    last: Option<carpd_proto::Instant>,
}

impl AfterBursts {
    /// A hook job finished at `now`.
    pub fn finished(&mut self, now: carpd_proto::Instant) {
        self.finished = self.finished.saturating_add(1);
        self.last = Some(now);
    }

    /// The loop woke at `now`: releases free pages when a burst ended a while ago.
    pub fn woke(&mut self, now: carpd_proto::Instant) {
        let over = self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) >= QUIET);
        if self.finished >= BURST && over {
            release_free_pages();
            self.finished = 0;
        }
    }
}
