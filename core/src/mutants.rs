//! Planted bugs: re-creations of races the simulation scenarios must catch. A scenario's
//! mutant is switched on for one run on the current thread (each simulated run owns its
//! thread), so a sweep's runs never see each other's mutants. Without the `sim` feature
//! nothing is compiled in and [`active`] is always false.

/// The dispatcher awaits `bus.publish` of lifecycle events itself (as before the ordered
/// outbox), so one stuck subscriber stalls every stop. Caught by S-P13.
pub const PUBLISH_INLINE: &str = "supervisor.publish_inline";

/// The session shuts the bus down before the supervisor, as a naive teardown would: the last
/// lines and every `ProcessExited` are lost. Caught by S-S1.
pub const SESSION_BUS_FIRST: &str = "session.bus_first";

/// The findings store ignores instance ends, so an exited server's URL stays listed. Caught by
/// S-F1.
pub const FINDINGS_KEEP_URLS: &str = "findings.keep_urls";

/// The catalogue takes a new discovery without announcing it: front ends never learn of an
/// edited manifest. Caught by S-S2.
pub const CATALOGUE_SILENT: &str = "catalogue.silent";

/// Readers publish without waiting for their instance's `ProcessStarted` to leave the
/// outbox: a line can reach subscribers before its start. Caught by S-P4 (I14).
pub const READERS_UNGATED: &str = "supervisor.readers_ungated";

/// A stream's publisher publishes what detection found after the whole read instead of right
/// after the line that completed it (batches never cut): a detection lands after lines that
/// followed it. Caught by S-S1.
pub const DETECTIONS_AFTER_READ: &str = "supervisor.detections_after_read";
/// An open error group waits for the next line on its stream however long the stream stays
/// quiet (no `QUIET_CLOSE`): a dev server's stack is reported only when it prints again.
/// Caught by S-D1.
pub const NO_QUIET_CLOSE: &str = "detect.no_quiet_close";
/// An ended instance's timers are not cancelled, and a stop's grace timer finds its process by
/// script name, not instance: when a generation ended on SIGTERM before its grace, the timer
/// SIGKILLs the generation that replaced it (Brummer's S-P10). Caught by S-P10.
pub const STALE_KILL_TIMER: &str = "supervisor.stale_kill_timer";
/// An instance ends when its leader is reaped, without waiting for its streams' EOF: its last
/// lines can follow its `ProcessExited`. Caught by S-P4 (I14).
pub const EXIT_BEFORE_EOF: &str = "supervisor.exit_before_eof";
/// An instance's end is published twice (the reaper and the EOF path each report it). Caught
/// by S-S1 (one exit each), S-P4, S-P5 and S-P9 (I15).
pub const DUPLICATE_EXIT: &str = "supervisor.duplicate_exit";
/// The restart limit never bites (the count of consecutive restarts is lost at each one): a
/// crashing script restarts for ever. Caught by S-P8.
pub const RESTART_UNLIMITED: &str = "supervisor.restart_unlimited";
/// A clear of a script's old generations removes what is stored but does not remember the
/// generation, so its lines still in flight are stored after the clear (Brummer's S-P11).
/// Caught by S-P11.
pub const CLEAR_FORGETS_GENERATION: &str = "logs.clear_forgets_generation";
/// The supervisor releases a process group (tells the orphan guardian to forget it) as soon
/// as its leader is reaped, before its streams' EOF and not once the group is empty: a
/// grandchild still printing is known to nobody, and if brum dies then it outlives brum. Caught by S-C1 (a crash at a seeded
/// checkpoint).
pub const RELEASE_BEFORE_EOF: &str = "supervisor.release_before_eof";
/// The log service times lines with the wall clock (time since the store started, by
/// `SystemTime`) instead of the monotonic clock: a wall-clock jump or drift reorders the
/// store's time axis and breaks time filters. Caught by S-C2.
pub const LOGS_WALL_CLOCK: &str = "logs.wall_clock";
/// A `drop_oldest` mailbox evicts without counting it: drops under a flood go unreported.
/// Caught by S-C3.
pub const UNCOUNTED_DROP: &str = "bus.uncounted_drop";
/// A publisher that finds a subscriber's handler busy hands the delivery to a task of its own
/// instead of waiting (Brummer's `go handler(event)`): one task per event however slow the
/// handler (Brummer's S-E1). Caught by S-E1 (I1).
pub const BUS_TASK_PER_DELIVERY: &str = "bus.task_per_delivery";
/// The bus filters event kinds when it delivers instead of when it queues: a subscriber that
/// asked only for lifecycle events gets its mailbox filled with lines, which push its exits
/// out or hold them back (Brummer's S-E3). Caught by S-E3 (I2, I9).
pub const BUS_KINDS_AT_DELIVERY: &str = "bus.kinds_at_delivery";
/// Each subscriber gets its own copy of an event, stamped when it is offered, instead of the
/// one shared immutable envelope (Brummer's S-E8): subscribers disagree on what was published.
/// Caught by S-E8 (I7).
pub const BUS_COPY_PER_SUBSCRIBER: &str = "bus.copy_per_subscriber";
/// The log store evicts its newest chunk instead of its oldest when over budget: the lines
/// just accepted vanish and stale ones stay. Caught by S-L5 (I23).
pub const LOGS_EVICT_NEWEST: &str = "logs.evict_newest";
/// An append returns the id the next line will get, not the stored entry's (Brummer's S-L4:
/// a fabricated entry). Caught by S-L4 (I26).
pub const LOGS_FABRICATED_ID: &str = "logs.fabricated_id";
/// Closing the log service does not flush its persistence sink: the last lines stored never
/// reach the file. Caught by S-L8 (log_persist).
pub const LOGS_CLOSE_UNFLUSHED: &str = "logs.close_unflushed";
/// The findings store evicts the newest URL instead of the oldest when over `urls_max`: a
/// server's latest announcement is lost and a stale one kept. Caught by S-L7 (I23).
pub const FINDINGS_EVICT_NEWEST_URL: &str = "findings.evict_newest_url";
/// A restart of a running instance starts the replacement at once instead of when the old
/// generation has ended: while the old one is still stopping (a slow SIGTERM, the grace
/// running), two generations of the script are alive (Brummer's restart without waiting for
/// the stop). Caught by S-S3 (I18).
pub const RESTART_OVERLAP: &str = "supervisor.restart_overlap";
/// The dispatcher republishes the status snapshot with an instance's terminal state before it
/// has written the end time: a reader can see a torn snapshot, terminal without `ended_ms`
/// (Brummer's S-P1, field-by-field writes read by the status tool). Caught by S-P1 (I13).
pub const TORN_STATUS: &str = "supervisor.torn_status";
/// Ends that come from the instance's own tasks (EOF, the reaper) are written to the
/// dispatcher's table but the status snapshot is only republished on requests: the snapshot
/// says running while `ProcessExited` is out (Brummer's S-P6, the two stores diverging).
/// Caught by S-P6 (I13).
pub const SNAPSHOT_MISSES_ENDS: &str = "supervisor.snapshot_misses_ends";
/// A stop waits for the grace period inside the dispatcher (Brummer's sleep and `pgrep` under
/// the process lock): while one process is slow to stop, every other stop and start waits.
/// Caught by S-P2 (I16).
pub const STOP_WAITS_INLINE: &str = "supervisor.stop_waits_inline";
/// No EOF deadline after SIGKILL: a grandchild that left the group and holds the pipes keeps
/// its instance (and the stop waiting on it) alive for ever. Caught by S-G1.
pub const NO_EOF_DEADLINE: &str = "supervisor.no_eof_deadline";
/// Each read is taken to end on a line boundary: a line that arrives in two reads is published
/// as two lines. Caught by S-R1 (I15).
pub const SPLIT_LINE_UNJOINED: &str = "supervisor.split_line_unjoined";
/// A failed `wait()` is ignored (the instance waits for a status that never comes): it never
/// ends, and a stop of it never returns. Caught by S-W1 (I12).
pub const WAIT_ERROR_IGNORED: &str = "supervisor.wait_error_ignored";
/// An instance's end is published before its automatic restart is decided: a watcher (`brum
/// run`) sees every instance ended with no restart coming and finishes while the restarts
/// are still due. Caught by S-S4.
pub const RESTART_DECIDED_LATE: &str = "supervisor.restart_decided_late";
/// Each output stream keeps its own set of announced URLs (Brummer's check-then-act in each
/// reader): a server that prints its URL on stdout and stderr announces it twice. Caught by
/// S-D2 and S-L7 (I28).
pub const URLS_PER_STREAM: &str = "supervisor.urls_per_stream";
/// Every read's lines ask the dispatcher before they are published (Brummer read the
/// callbacks under the manager's lock for every line): while the dispatcher is held by a
/// slow spawn, every process's output stalls. Caught by S-P14 (I16).
pub const LINES_THROUGH_DISPATCHER: &str = "supervisor.lines_through_dispatcher";
/// A group is released when its leader is reaped, whatever it left running: the leftovers
/// are neither stopped nor tracked for the orphan guardian. Caught by S-O1 (I11).
pub const RELEASE_AT_REAP: &str = "supervisor.release_at_reap";
/// A stop that lands while a restart waits for the instance to end is lost: the replacement
/// starts anyway, after the stop returned (how brum behaved before the restart was made
/// cancellable). Caught by S-S3 (I12).
pub const STOP_LOST_IN_RESTART: &str = "supervisor.stop_lost_in_restart";
/// An MCP wait (`scripts_run` with `wait_for`, `logs_stream` with `follow`) forgets to
/// unsubscribe when its caller drops the call mid-wait: every abandoned wait leaves a
/// subscription behind on the bus, its handler still filling a dead queue (Brummer's S-M12).
/// Caught by S-M12.
pub const MCP_WAIT_LEAKS_SUBSCRIPTION: &str = "mcp.wait_leaks_subscription";

/// Every mutant, for `brum sim` listings and tests.
pub const ALL: &[&str] = &[
    PUBLISH_INLINE,
    SESSION_BUS_FIRST,
    FINDINGS_KEEP_URLS,
    CATALOGUE_SILENT,
    READERS_UNGATED,
    DETECTIONS_AFTER_READ,
    NO_QUIET_CLOSE,
    STALE_KILL_TIMER,
    EXIT_BEFORE_EOF,
    DUPLICATE_EXIT,
    RESTART_UNLIMITED,
    CLEAR_FORGETS_GENERATION,
    RELEASE_BEFORE_EOF,
    LOGS_WALL_CLOCK,
    UNCOUNTED_DROP,
    BUS_TASK_PER_DELIVERY,
    BUS_KINDS_AT_DELIVERY,
    BUS_COPY_PER_SUBSCRIBER,
    LOGS_EVICT_NEWEST,
    LOGS_FABRICATED_ID,
    LOGS_CLOSE_UNFLUSHED,
    FINDINGS_EVICT_NEWEST_URL,
    RESTART_OVERLAP,
    TORN_STATUS,
    SNAPSHOT_MISSES_ENDS,
    STOP_WAITS_INLINE,
    NO_EOF_DEADLINE,
    SPLIT_LINE_UNJOINED,
    WAIT_ERROR_IGNORED,
    RESTART_DECIDED_LATE,
    URLS_PER_STREAM,
    LINES_THROUGH_DISPATCHER,
    RELEASE_AT_REAP,
    STOP_LOST_IN_RESTART,
    MCP_WAIT_LEAKS_SUBSCRIPTION,
];

#[cfg(feature = "sim")]
thread_local! {
    static ACTIVE: std::cell::Cell<Option<&'static str>> = const { std::cell::Cell::new(None) };
}

/// Whether mutant `name` is switched on for the run on this thread.
pub fn active(name: &str) -> bool {
    #[cfg(feature = "sim")]
    {
        ACTIVE.with(|a| a.get() == Some(name))
    }
    #[cfg(not(feature = "sim"))]
    {
        let _ = name;
        false
    }
}

/// Runs `f` with mutant `name` switched on for this thread (`None`: none), then restores the
/// previous setting.
#[cfg(feature = "sim")]
pub fn with<T>(name: Option<&'static str>, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<&'static str>);
    impl Drop for Restore {
        fn drop(&mut self) {
            ACTIVE.with(|a| a.set(self.0));
        }
    }
    let _restore = Restore(ACTIVE.with(|a| a.replace(name)));
    f()
}
