//! One run per (collection, day) at a time: a lease under the destination,
//! taken before anything is staged and checked again just before the
//! commit.
//!
//! A lease is a generation of small objects,
//! `_weir/leases/<db>.<collection>/<date>/<generation>.json`, each made
//! with a conditional create (`PutMode::Create`: S3's `If-None-Match: *`, an
//! atomic hard link on local disk), so of two runs creating one generation
//! exactly one succeeds. The newest generation holds the day until it
//! expires; its holder renews it by rewriting its own object (nobody else
//! ever writes it), and a run that finds it expired takes the day by
//! creating the next generation. A holder that sees a newer generation than
//! its own has lost the day and must not commit. Only creates are
//! conditional, so the scheme needs no `If-Match` (which local disk lacks).
//!
//! The same scheme in `<db>.<collection>/_publish/` keeps the commits of a
//! collection's days to one at a time when they publish outside their own
//! day ([`Lease::take_publish`]), held for the commit only.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use crate::storage::Location;
use crate::{Error, Result};

/// Where leases live under the destination.
pub const LEASE_ROOT: &str = "_weir/leases";

/// Who holds a day, as its lease object says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The holder's run id.
    pub run_id: String,
    /// Its host.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// When it took the day.
    pub taken_at: DateTime<Utc>,
    /// Until when it holds it unless renewed.
    pub expires_at: DateTime<Utc>,
    /// It gave the day up (it did not die holding it).
    #[serde(default)]
    pub released: bool,
}

impl Holder {
    fn holds(&self) -> bool {
        !self.released && self.expires_at > Utc::now()
    }
}

/// A day that another live run holds.
#[derive(Debug, thiserror::Error)]
#[error(
    "{day} is being run by run {} on {} (pid {}) since {}, its lease until {}; nothing done",
    holder.run_id, holder.host, holder.pid, holder.taken_at.format("%H:%M:%S UTC"), holder.expires_at.format("%H:%M:%S UTC")
)]
pub struct DayHeld {
    /// `db:collection date`.
    pub day: String,
    /// Who holds it.
    pub holder: Holder,
}

/// A held lease; renewed in the background until released.
#[derive(Debug)]
pub struct Lease {
    dest: Location,
    dir: ObjectPath,
    generation: u64,
    holder: Holder,
    lost: Arc<AtomicBool>,
    renewal: Option<tokio::task::JoinHandle<()>>,
    /// The holder it replaced, if that one had expired (a dead run whose
    /// staging the new holder removes).
    pub took_over: Option<Holder>,
}

/// What one attempt at a lease found.
enum Attempt {
    Taken(Box<Lease>),
    /// Another live run holds it.
    Held(Holder),
    /// Every round lost its create to another run.
    Contended,
}

/// The directory of one of `collection`'s leases: a day's, or [`PUBLISH`].
fn lease_dir(dest: &Location, collection: &str, leaf: &dyn std::fmt::Display) -> ObjectPath {
    dest.child(&format!(
        "{LEASE_ROOT}/{}/{leaf}",
        super::day_key(collection)
    ))
}

fn name(generation: u64) -> String {
    format!("{generation:020}.json")
}

async fn generations(dest: &Location, dir: &ObjectPath) -> Result<Vec<(u64, ObjectPath)>> {
    let listed: Vec<object_store::ObjectMeta> = dest
        .store
        .list(Some(dir))
        .try_collect()
        .await
        .map_err(|e| Error::storage("list", dest.display(dir), &e))?;
    let mut found: Vec<(u64, ObjectPath)> = listed
        .into_iter()
        .filter_map(|m| {
            let n = m.location.filename()?.strip_suffix(".json")?.parse().ok()?;
            Some((n, m.location))
        })
        .collect();
    found.sort_by_key(|(n, _)| *n);
    Ok(found)
}

async fn read_holder(dest: &Location, path: &ObjectPath) -> Result<Option<Holder>> {
    match dest.store.get(path).await {
        Ok(got) => {
            let bytes = got
                .bytes()
                .await
                .map_err(|e| Error::storage("read", dest.display(path), &e))?;
            Ok(serde_json::from_slice(&bytes).ok())
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(Error::storage("read", dest.display(path), &e)),
    }
}

/// How long a day's commit waits for another day's commit of the same
/// collection before it fails (a live holder renews its lease; a dead one's
/// expires after its ttl and is taken over).
pub const PUBLISH_PATIENCE: Duration = Duration::from_secs(600);

/// The publish lease's longest ttl: what a commit killed holding it costs
/// the next at most.
pub const PUBLISH_LEASE_TTL: Duration = Duration::from_secs(30);

/// The name of the collection's publish lease, beside its days' leases.
const PUBLISH: &str = "_publish";

impl Lease {
    /// Takes `collection`'s `export_date` for `run_id` for `ttl`, renewing
    /// it every third of that. Fails with [`DayHeld`] (as
    /// [`Error::DayCheck`]) while another run holds it.
    pub async fn take(
        dest: &Location,
        collection: &str,
        export_date: NaiveDate,
        run_id: &str,
        ttl: Duration,
    ) -> Result<Self> {
        let dir = lease_dir(dest, collection, &export_date);
        let refused = |detail: String, fault: crate::Fault| Error::DayCheck {
            collection: collection.to_owned(),
            export_date: export_date.to_string(),
            detail,
            fault,
        };
        match Self::take_in(dest, dir, run_id, ttl).await? {
            Attempt::Taken(lease) => Ok(*lease),
            Attempt::Held(holder) => Err(refused(
                DayHeld {
                    day: format!("{collection} {export_date}"),
                    holder,
                }
                .to_string(),
                crate::Fault::Configuration,
            )),
            Attempt::Contended => Err(refused(
                "the day's lease kept changing hands; nothing done".to_owned(),
                crate::Fault::Environment,
            )),
        }
    }

    /// Takes `collection`'s publish lease, waiting while another run holds
    /// it: what two days of one collection publish outside their own day
    /// (a table's recorded columns, a table rebuilt whole, a Delta log) is
    /// published by one day at a time, so neither swaps a directory the
    /// other is swapping. Held for `ttl` unless renewed; fails (the
    /// environment's fault) after `patience`.
    pub async fn take_publish(
        dest: &Location,
        collection: &str,
        export_date: NaiveDate,
        run_id: &str,
        ttl: Duration,
        patience: Duration,
    ) -> Result<Self> {
        let dir = lease_dir(dest, collection, &PUBLISH);
        // One run publishes several days: each day is its own holder.
        let holder = format!("{run_id}/{export_date}");
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            let last = match Self::take_in(dest, dir.clone(), &holder, ttl).await? {
                Attempt::Taken(lease) => return Ok(*lease),
                Attempt::Held(holder) => Some(holder),
                Attempt::Contended => None,
            };
            if started.elapsed() >= patience {
                let by = last.map_or_else(
                    || "its lease kept changing hands".to_owned(),
                    |h| format!("run {} on {} (pid {}) held it", h.run_id, h.host, h.pid),
                );
                return Err(Error::DayCheck {
                    collection: collection.to_owned(),
                    export_date: export_date.to_string(),
                    detail: format!(
                        "waited {}s to publish after another day of the collection: {by}; nothing published",
                        patience.as_secs()
                    ),
                    fault: crate::Fault::Environment,
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    /// One attempt at the lease in `dir`.
    async fn take_in(
        dest: &Location,
        dir: ObjectPath,
        run_id: &str,
        ttl: Duration,
    ) -> Result<Attempt> {
        // Two rounds: a create lost to a run that took the lease at the same
        // moment is read back as that run's lease.
        for _ in 0..3 {
            let found = generations(dest, &dir).await?;
            let (next, previous) = match found.last() {
                None => (0, None),
                Some((n, path)) => {
                    let holder = read_holder(dest, path).await?;
                    match holder {
                        Some(h) if h.holds() && h.run_id != run_id => return Ok(Attempt::Held(h)),
                        other => (n + 1, other),
                    }
                }
            };
            let now = Utc::now();
            let holder = Holder {
                run_id: run_id.to_owned(),
                host: host_name(),
                pid: std::process::id(),
                taken_at: now,
                expires_at: now + ttl,
                released: false,
            };
            let path = crate::storage::raw_join(&dir, &name(next));
            let body = serde_json::to_vec(&holder).unwrap_or_default();
            match dest
                .store
                .put_opts(
                    &path,
                    PutPayload::from(body),
                    PutOptions::from(PutMode::Create),
                )
                .await
            {
                Ok(_) => {
                    // The generations before are history now.
                    for (_, old) in found {
                        let _ = dest.store.delete(&old).await;
                    }
                    let mut lease = Self {
                        dest: dest.clone(),
                        dir,
                        generation: next,
                        holder,
                        lost: Arc::new(AtomicBool::new(false)),
                        renewal: None,
                        took_over: previous.filter(|p| !p.released && p.run_id != run_id),
                    };
                    lease.renew_every(ttl);
                    return Ok(Attempt::Taken(Box::new(lease)));
                }
                Err(object_store::Error::AlreadyExists { .. }) => continue,
                Err(e) => return Err(Error::storage("create", dest.display(&path), &e)),
            }
        }
        Ok(Attempt::Contended)
    }

    fn renew_every(&mut self, ttl: Duration) {
        let (dest, dir, generation, mut holder, lost) = (
            self.dest.clone(),
            self.dir.clone(),
            self.generation,
            self.holder.clone(),
            Arc::clone(&self.lost),
        );
        self.renewal = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(ttl / 3).await;
                if !still_newest(&dest, &dir, generation).await.unwrap_or(false) {
                    lost.store(true, Ordering::SeqCst);
                    tracing::error!(run_id = %holder.run_id, lease = %dir, "the lease was taken by another run");
                    return;
                }
                holder.expires_at = Utc::now() + ttl;
                let path = crate::storage::raw_join(&dir, &name(generation));
                let body = serde_json::to_vec(&holder).unwrap_or_default();
                if let Err(e) = dest.store.put(&path, PutPayload::from(body)).await {
                    tracing::warn!(error = %crate::redact::secrets(&e.to_string()), lease = %dir, "could not renew the lease");
                }
            }
        }));
    }

    /// Whether this run still holds the day (checked before a commit): no
    /// newer generation, and not found lost by the renewal.
    pub async fn check(&self) -> std::result::Result<(), String> {
        if self.lost.load(Ordering::SeqCst)
            || !still_newest(&self.dest, &self.dir, self.generation)
                .await
                .unwrap_or(false)
        {
            return Err(format!(
                "run {} lost the day's lease to another run (it stalled past the lease); nothing published",
                self.holder.run_id
            ));
        }
        Ok(())
    }

    /// Gives the day up: its generation stays, marked released, so the
    /// next run takes the next one and knows nobody died holding it.
    pub async fn release(mut self) {
        if let Some(task) = self.renewal.take() {
            task.abort();
        }
        if still_newest(&self.dest, &self.dir, self.generation)
            .await
            .unwrap_or(false)
        {
            let path = crate::storage::raw_join(&self.dir, &name(self.generation));
            let mut holder = self.holder.clone();
            holder.released = true;
            holder.expires_at = Utc::now();
            let body = serde_json::to_vec(&holder).unwrap_or_default();
            if let Err(e) = self.dest.store.put(&path, PutPayload::from(body)).await {
                tracing::warn!(error = %crate::redact::secrets(&e.to_string()), "could not release the day's lease (it expires by itself)");
            }
        }
    }

    /// This lease's holder.
    pub fn holder(&self) -> &Holder {
        &self.holder
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(task) = self.renewal.take() {
            task.abort();
        }
    }
}

async fn still_newest(dest: &Location, dir: &ObjectPath, generation: u64) -> Result<bool> {
    let found = generations(dest, dir).await?;
    Ok(found.last().map(|(n, _)| *n) == Some(generation))
}

/// This host's name, for messages saying who holds a day.
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown-host".to_owned())
}
