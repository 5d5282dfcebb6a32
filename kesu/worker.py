"""``kesu worker``: fires due SLA timers, re-targets clocks of edited policies, and delivers
the notification outbox. Any number of workers may run against one PostgreSQL: each claims its
own work with compare-and-set updates (``FOR UPDATE SKIP LOCKED``), so nothing fires twice.
On SQLite the workers' write transactions queue on the write lock.

A pass takes a few milliseconds when nothing is due; the loop runs one every
``KESU_WORKER_INTERVAL_SECONDS`` (5 s), and at once again while a batch came back full.
It also retrains the triage category model once ``KESU_TRIAGE_RETRAIN_AFTER`` agents'
corrections have accumulated (the pass then takes as long as the training).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

from kesu.analytics.rollups import catch_up_all
from kesu.attachments.service import sweep_orphans
from kesu.attachments.storage import get_storage
from kesu.clock import Clock, SystemClock
from kesu.config import Settings
from kesu.db import Database
from kesu.errors import InvalidInput
from kesu.exports.service import run_due as exports_due
from kesu.intake.email.poller import poll_due as poll_mailboxes
from kesu.notify.delivery import DeliveryStats, deliver_due
from kesu.privacy.erasure import anonymize_expired
from kesu.reports.schedules import run_due as reports_due
from kesu.sla.escalation import fire_due
from kesu.sla.reconcile import reconcile
from kesu.surveys.service import run_due as surveys_due
from kesu.triage.training import TrainOutcome, retrain_if_due

log = logging.getLogger("kesu.worker")
RETENTION_EVERY = timedelta(hours=1)


@dataclass
class PassStats:
    fired: int = 0
    reconciled: int = 0
    delivery: DeliveryStats = field(default_factory=DeliveryStats)
    retrained: TrainOutcome | None = None
    anonymized: int = 0  # customers past the retention period (kesu.privacy)
    mails: int = 0  # messages taken in from the IMAP mailboxes (kesu.intake.email)
    swept: int = 0  # attachment blobs no row references (kesu.attachments), hourly
    surveys: int = 0  # satisfaction surveys sent, expired or archived (kesu.surveys)
    reports: int = 0  # scheduled reports written to the outbox (kesu.reports)
    exports: int = 0  # background exports written (kesu.exports), one per pass

    @property
    def busy(self) -> bool:
        return bool(
            self.fired
            or self.reconciled
            or self.delivery.claimed
            or self.mails
            or self.surveys
            or self.exports
        )


class Worker:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock | None = None,
        http: httpx.Client | None = None,
        wall: Clock | None = None,
        timer_batch: int = 500,
        outbox_batch: int = 50,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock or SystemClock()
        self.wall = wall or SystemClock()  # real time for signed robot requests
        self.http = http or httpx.Client(timeout=settings.notify_http_timeout, trust_env=False)
        self.timer_batch = timer_batch
        self.outbox_batch = outbox_batch
        self._retention_at: datetime | None = None
        self._swept_at: datetime | None = None

    def fire_timers(self) -> tuple[int, int]:
        """One batch of due timers: (clocks claimed, alerts announced)."""
        with self.db.session() as session:
            return fire_due(session, self.clock, self.timer_batch)

    def run_once(self) -> PassStats:
        """One pass: due timers (until none is left), one re-targeting batch, one outbox batch."""
        stats = PassStats()
        while True:
            claimed, announced = self.fire_timers()
            stats.fired += announced
            if claimed < self.timer_batch:
                break
        with self.db.session() as session:
            stats.reconciled = reconcile(session, self.clock)
        stats.surveys = self.surveys()
        stats.mails = poll_mailboxes(self.db, self.clock, self.settings)
        catch_up_all(self.db, self.clock)  # complaint events into the KPI rollups (kesu.analytics)
        stats.reports = reports_due(self.db, self.clock)  # before delivery: sent this pass
        stats.delivery = deliver_due(
            self.db, self.clock, self.settings, self.http, self.outbox_batch, self.wall
        )
        stats.retrained = self.retrain()
        stats.anonymized = self.retention()
        stats.swept = self.sweep_attachments()
        stats.exports = exports_due(self.db, self.clock, self.settings)
        return stats

    def surveys(self) -> int:
        """Due satisfaction surveys: sent, expired (unrated) or archived, before delivery."""
        with self.db.session() as session:
            return surveys_due(session, self.clock, self.timer_batch)

    def sweep_attachments(self) -> int:
        """Removes attachment blobs left by uploads that never committed, at most hourly."""
        now = self.clock.now()
        if self._swept_at is not None and now - self._swept_at < RETENTION_EVERY:
            return 0
        self._swept_at = now
        with self.db.session(write=False) as session:
            return sweep_orphans(session, storage=get_storage(self.settings))

    def retrain(self) -> TrainOutcome | None:
        """Retrains the category model once enough agents' corrections have accumulated."""
        try:
            return retrain_if_due(self.db, self.clock, self.settings.triage_retrain_after)
        except InvalidInput as error:  # too little data to train: try again next time
            log.info("triage retraining skipped: %s", error)
            return None

    def retention(self) -> int:
        """Anonymises customers past ``KESU_RETENTION_YEARS``, at most once an hour."""
        now = self.clock.now()
        if self.settings.retention_years <= 0 or (
            self._retention_at is not None and now - self._retention_at < RETENTION_EVERY
        ):
            return 0
        self._retention_at = now
        with self.db.session() as session:
            done = anonymize_expired(session, self.clock, self.settings.retention_years)
            session.commit()
        if done:
            log.info("retention: anonymised %d customers", len(done))
        return len(done)

    def run_until_idle(self, max_passes: int = 100) -> list[PassStats]:
        """Passes until one finds nothing to do (tests, ``kesu worker --once``)."""
        passes = []
        for _ in range(max_passes):
            stats = self.run_once()
            passes.append(stats)
            if not stats.busy:
                break
        return passes

    def run_forever(self, stop: threading.Event, interval: float | None = None) -> None:
        wait = self.settings.worker_interval_seconds if interval is None else interval
        log.info("kesu worker started (every %.1f s)", wait)
        while not stop.is_set():
            busy = False
            try:
                stats = self.run_once()
                busy = stats.delivery.claimed >= self.outbox_batch
                if stats.retrained is not None:
                    log.info("triage model retrained: %s", stats.retrained.as_dict())
                if stats.busy:
                    log.info(
                        "fired %d alerts, re-synced %d, delivered %d, retry %d, failed %d",
                        stats.fired,
                        stats.reconciled,
                        stats.delivery.delivered,
                        stats.delivery.retried,
                        stats.delivery.failed,
                    )
            except Exception:  # keep going: the next pass retries; nothing was committed
                log.exception("worker pass failed")
            if not busy:
                stop.wait(wait)
        log.info("kesu worker stopped")


def start_in_thread(db: Database, settings: Settings) -> tuple[threading.Thread, threading.Event]:
    """The worker inside ``kesu serve --with-worker`` (``make run``): a daemon thread."""
    stop = threading.Event()
    worker = Worker(db, settings)
    thread = threading.Thread(
        target=worker.run_forever, args=(stop,), name="kesu-worker", daemon=True
    )
    thread.start()
    return thread, stop
