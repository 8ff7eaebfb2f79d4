//! Usage roll-ups written by several writers at once (the usage recorders of
//! several replicas), on SQLite and PostgreSQL: batches that add to the same
//! hour's rows, in different orders, neither deadlock nor lose a count.

use crate::support::{each_backend, TestDb};
use portcullis_domain::*;
use portcullis_storage::*;

each_backend!(concurrent_batches_on_the_same_rows_add_up_exactly, |db: TestDb| async move {
    let s = &db.store;
    let org = s.create_org("Busy", Timestamp(1)).await.unwrap();
    let hour = 3_600_000;
    let automations: Vec<AutomationId> = (0..40).map(|_| AutomationId::new()).collect();
    // Each writer sends its events in its own order (reversed, rotated), as
    // replicas would: the rows a batch touches are the same for all.
    let batch = |writer: usize| -> Vec<UsageEvent> {
        let mut events: Vec<UsageEvent> = automations
            .iter()
            .enumerate()
            .map(|(i, a)| UsageEvent {
                at: Timestamp(5 * hour + i as i64),
                org_id: Some(org.id),
                kind: "kickoff".into(),
                provider: None,
                success: Some(i % 3 != 0),
                automation_id: Some(*a),
                user_id: None,
                latency_ms: None,
                latency_bucket: Some((i % 8) as i64),
                count: 1,
            })
            .collect();
        if writer % 2 == 1 {
            events.reverse();
        }
        events.rotate_left(writer * 7 % 40);
        events
    };
    let write = |writer: usize| {
        let events = batch(writer);
        async move {
            for _ in 0..15 {
                s.append_usage(&events).await.unwrap_or_else(|e| panic!("writer {writer}: {e:?}"));
            }
        }
    };
    tokio::join!(write(0), write(1), write(2), write(3));
    let rows = s.list_usage_rows(&UsageQuery { org_id: Some(org.id), from: Timestamp(0), to: Timestamp(24 * hour), daily: false, bucket_ms: 24 * hour }).await.unwrap();
    let total = 4 * 15 * 40;
    assert_eq!(rows.kinds.iter().filter(|r| r.kind == "kickoff").map(|r| r.count).sum::<i64>(), total);
    assert_eq!(rows.latency.iter().map(|r| r.count).sum::<i64>(), total);
    for a in &automations {
        let n: i64 = rows.subjects.iter().filter(|r| r.subject_id == a.to_string()).map(|r| r.count).sum();
        assert_eq!(n, 4 * 15, "kickoffs of {a}");
    }
});
