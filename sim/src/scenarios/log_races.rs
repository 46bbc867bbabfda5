//! Log-store races S-L1, S-L2, S-L3, S-L5, and S-P11 (restart and clear).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use brum_core::bus::{Closed, Event, EventBus, ProcessRef, Stream};
use brum_core::logs::{AppendError, Filter, LogService, LogStoreConfig, ProcessFilter};
use brum_core::rt::{Runtime, spawn};
use brum_core::util::yield_now;

use super::{Cx, Outcome, violation};
use crate::conformance::Programs;
use crate::ensure;

fn process(id: u64) -> ProcessRef {
    ProcessRef::new(id, format!("p{id}"))
}

fn line(p: &ProcessRef, i: u64) -> Event {
    Event::log_line(p.clone(), Stream::Stdout, &format!("{} line {i}", p.name))
}

/// Publishes `each` lines for each of `producers` processes concurrently, yielding at seeded
/// points; returns the count each producer got accepted.
async fn produce<R: Runtime>(cx: &Cx<R>, bus: &EventBus<R>, producers: u64, each: u64) -> Vec<u64> {
    let tasks: Vec<_> = (1..=producers)
        .map(|k| {
            let (bus, rt) = (bus.clone(), cx.rt.clone());
            spawn(&cx.rt, "scenario.producer", async move {
                let p = process(k);
                let mut accepted = 0;
                for i in 1..=each {
                    if bus.publish(line(&p, i)).await.is_ok() {
                        accepted += 1;
                    }
                    if rt.below(4) == 0 {
                        rt.checkpoint("scenario.producer").await;
                        yield_now().await;
                    }
                }
                accepted
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.join().await.unwrap_or(0));
    }
    out
}

/// Per process, the line numbers held, in store order.
fn held(service: &LogService<impl Runtime>) -> BTreeMap<u64, Vec<u64>> {
    let mut by: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for e in service.entries() {
        let n = e.text.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0);
        by.entry(e.process.id.0).or_default().push(n);
    }
    by
}

fn budget_all() -> LogStoreConfig {
    LogStoreConfig { budget_bytes: 64 * 1024 * 1024, max_line_bytes: 4096 }
}

/// S-L1 and S-L2: concurrent producers through a small, blocking mailbox: every accepted
/// line is stored exactly once, in each producer's order.
async fn exactly_once_in_order<R: Runtime>(cx: &Cx<R>, mailbox: usize) -> Outcome {
    let mut cfg = cx.bus_config();
    cfg.mailbox_capacity = mailbox;
    let bus = EventBus::new(cx.rt.clone(), cfg);
    let service =
        LogService::attach(cx.rt.clone(), &bus, budget_all()).map_err(|_| violation("setup", "bus closed"))?;
    let accepted = produce(cx, &bus, 4, 150).await;
    let report = bus.shutdown().await;
    cx.log("bus", "shutdown", report.to_string());
    let by = held(&service);
    for (k, n) in (1u64..).zip(&accepted) {
        let got = by.get(&k).cloned().unwrap_or_default();
        let want: Vec<u64> = (1..=*n).collect();
        ensure!(
            got.len() as u64 == *n,
            "I20/I21 every accepted line stored exactly once",
            "p{k}: {} stored, {n} accepted",
            got.len()
        );
        ensure!(
            got == want,
            "I22 per-producer FIFO",
            "p{k} stored out of order: first difference at {:?}",
            got.iter().zip(&want).position(|(a, b)| a != b)
        );
    }
    let st = service.stats();
    cx.log("logs", "stats", format!("entries={} appended={} evicted={}", st.entries, st.appended, st.evicted_entries));
    service.close().await;
    Ok(())
}

pub async fn s_l1<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    exactly_once_in_order(cx, 64).await
}

pub async fn s_l2<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    // A mailbox of 4 keeps the store's subscription full for the whole burst.
    exactly_once_in_order(cx, 4).await
}

/// S-L3: close races producers: every line accepted before the close is stored, the closed
/// store refuses appends, and publish after the bus closed fails.
pub async fn s_l3<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    let bus = EventBus::new(cx.rt.clone(), cx.bus_config());
    let service =
        LogService::attach(cx.rt.clone(), &bus, budget_all()).map_err(|_| violation("setup", "bus closed"))?;
    let producers = {
        let (cx_rt, bus2) = (cx.rt.clone(), bus.clone());
        spawn(&cx.rt, "scenario.producers", async move {
            let p = process(1);
            let mut accepted = 0u64;
            for i in 1..=500 {
                if bus2.publish(line(&p, i)).await.is_ok() {
                    accepted += 1;
                }
                if cx_rt.below(3) == 0 {
                    yield_now().await;
                }
            }
            accepted
        })
    };
    let wait = 1 + cx.rt.below(200);
    while bus.published() < wait {
        yield_now().await;
    }
    // Close: stop intake and drain the bus (so every accepted line reaches the store), then
    // close the store.
    let report = bus.shutdown().await;
    service.close().await;
    let accepted = producers.join().await.map_err(|e| violation("producers", e.to_string()))?;
    cx.log("scenario", "closed", format!("after {accepted} accepted; {report}"));
    let stored = held(&service).get(&1).map_or(0, Vec::len) as u64;
    ensure!(stored == accepted, "I20 accepted then never lost on close", "{stored} stored, {accepted} accepted");
    let direct = service.append_direct(&process(1), "late", cx.rt.now());
    ensure!(matches!(direct, Err(AppendError::Closed)), "I20 append after close fails", "{direct:?}");
    let late = bus.publish(line(&process(1), 9999)).await;
    ensure!(late == Err(Closed), "I20 publish after close fails", "{late:?}");
    Ok(())
}

/// S-L5: a small budget under a flood: memory stays bounded, the oldest go first, and the
/// index agrees with the entries at the end.
pub async fn s_l5<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    let budget = 64 * 1024;
    let bus = EventBus::new(cx.rt.clone(), cx.bus_config());
    let cfg = LogStoreConfig { budget_bytes: budget, max_line_bytes: 1024 };
    let service = LogService::attach(cx.rt.clone(), &bus, cfg).map_err(|_| violation("setup", "bus closed"))?;
    let accepted = produce(cx, &bus, 3, 2000).await;
    bus.shutdown().await;
    let st = service.stats();
    let total: u64 = accepted.iter().sum();
    cx.log(
        "logs",
        "stats",
        format!(
            "entries={} held={} budget={} appended={} evicted={}",
            st.entries, st.held_bytes, budget, st.appended, st.evicted_entries
        ),
    );
    ensure!(st.held_bytes <= budget, "I23 bounded memory", "{} bytes held, budget {budget}", st.held_bytes);
    ensure!(st.appended == total, "I20 every line accepted", "{} appended of {total}", st.appended);
    ensure!(
        st.evicted_entries + st.entries == total,
        "I20 evictions counted",
        "{} evicted + {} held != {total}",
        st.evicted_entries,
        st.entries
    );
    ensure!(st.evicted_entries > 0, "scenario precondition", "the flood never filled the budget");
    // Oldest first: what remains of each process is a suffix of what it printed.
    for (p, lines) in held(&service) {
        let first = lines.first().copied().unwrap_or(1);
        let want: Vec<u64> = (first..first + lines.len() as u64).collect();
        ensure!(lines == want, "I23 eviction is oldest-first", "p{p} kept a non-contiguous set starting at {first}");
        ensure!(
            lines.last().copied() == Some(accepted[(p - 1) as usize]),
            "I23 the newest lines stay",
            "p{p} lost its newest line"
        );
    }
    // Index consistency: the per-process index equals a filter over the entries.
    let entries = service.entries();
    for p in 1..=3u64 {
        let filter = Filter { process: Some(ProcessFilter::Id(p)), ..Filter::default() };
        let via_index: Vec<u64> = service.tail(&filter, usize::MAX).iter().map(|e| e.id.0).collect();
        let via_scan: Vec<u64> = entries.iter().filter(|e| e.process.id == p).map(|e| e.id.0).collect();
        ensure!(
            via_index == via_scan,
            "I24 index consistency",
            "p{p}: index {} entries, scan {}",
            via_index.len(),
            via_scan.len()
        );
    }
    service.close().await;
    Ok(())
}

/// S-P11: restarting a process and clearing its old generation's logs never loses the new
/// generation's lines, and late lines of the old generation do not reappear.
pub async fn s_p11<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    let bus = EventBus::new(cx.rt.clone(), cx.bus_config());
    let service =
        LogService::attach(cx.rt.clone(), &bus, budget_all()).map_err(|_| violation("setup", "bus closed"))?;
    let old = ProcessRef::new(1, Arc::from("dev"));
    let new = ProcessRef::new(2, Arc::from("dev"));
    // The old generation still has lines in flight when the new one starts and the clear
    // lands; the order of the three is up to the schedule.
    let old_tail = {
        let (bus, old, rt) = (bus.clone(), old.clone(), cx.rt.clone());
        spawn(&cx.rt, "scenario.old", async move {
            let mut refused = 0u32;
            for i in 1..=40 {
                refused += u32::from(bus.publish(line(&old, i)).await.is_err());
                // Through the runtime's clock, so the clear can land between any two lines.
                if rt.below(3) == 0 {
                    rt.sleep(Duration::from_micros(1 + rt.below(300))).await;
                }
            }
            refused
        })
    };
    let new_gen = {
        let (bus, new, rt) = (bus.clone(), new.clone(), cx.rt.clone());
        spawn(&cx.rt, "scenario.new", async move {
            let mut refused = u32::from(
                bus.publish(Event::log_line(new.clone(), Stream::Stdout, "listening on http://localhost:3000"))
                    .await
                    .is_err(),
            );
            for i in 1..=40 {
                refused += u32::from(bus.publish(line(&new, i)).await.is_err());
                if rt.below(3) == 0 {
                    rt.sleep(Duration::from_micros(1 + rt.below(300))).await;
                }
            }
            refused
        })
    };
    // A seeded moment on the runtime's clock: a `yield_now` loop this short never let the
    // spawned tasks run under turmoil, so the clear always came first (the audit's finding).
    cx.rt.sleep(Duration::from_micros(cx.rt.below(4000))).await;
    let cleared = service.clear_generations("dev", old.id.0);
    cx.log("logs", "clear", format!("cleared {cleared} lines of generation {}", old.id.0));
    let refused_old = old_tail.join().await.map_err(|e| violation("old", e.to_string()))?;
    let refused_new = new_gen.join().await.map_err(|e| violation("new", e.to_string()))?;
    ensure!(
        refused_old + refused_new == 0,
        "S-P11 the open bus takes every line",
        "{refused_old} old and {refused_new} new lines refused"
    );
    bus.shutdown().await;
    let entries = service.entries();
    let old_left = entries.iter().filter(|e| e.process.id == old.id).count();
    let new_kept = entries.iter().filter(|e| e.process.id == new.id).count();
    let late = service.dropped_after_clear();
    cx.log("logs", "after", format!("old={old_left} new={new_kept} dropped_late={late}"));
    // The race's window: the clear landed between two lines of the old generation (some were
    // stored and cleared, some arrived after and were dropped).
    let window = if cleared > 0 && late > 0 { "hit" } else { "miss" };
    cx.log("window", window, format!("{cleared} old lines cleared, {late} arrived after the clear"));
    ensure!(old_left == 0, "I25 clear removes the old generation, late lines included", "{old_left} old lines left");
    ensure!(new_kept == 41, "I25 clear never touches the new generation", "{new_kept} of 41 new lines kept");
    ensure!(
        entries.iter().any(|e| e.text.contains("listening on")),
        "S-P11 the restarted server's announcement survives",
        "the listening line is gone"
    );
    service.close().await;
    Ok(())
}
