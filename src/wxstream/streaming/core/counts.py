"""What input records did, counted: per ingest call (metrics), per batch, and summed
over committed batches (a run's totals)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class IngestCounts:
    """What records did: per :meth:`BatchAssembler.ingest` call (metrics), per batch
    (:attr:`WorkBatch.counts`), or summed over committed batches (the run's totals)."""

    records: int = 0
    restored: int = 0
    forecasts: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    resets: int = 0
    qc_skipped: int = 0
    qc_imputed: int = 0
    missing_inputs: int = 0
    """Full windows not forecast: an optional input had no value in the whole window."""
    dead_letters: dict[str, int] = field(default_factory=dict)
    anomalies: dict[tuple[str, str], int] = field(default_factory=dict)
    """``(check, severity)`` -> findings."""

    def add(self, other: IngestCounts) -> None:
        """Add ``other``'s counts to these."""
        self.records += other.records
        self.restored += other.restored
        self.forecasts += other.forecasts
        self.duplicates += other.duplicates
        self.out_of_order += other.out_of_order
        self.resets += other.resets
        self.qc_skipped += other.qc_skipped
        self.qc_imputed += other.qc_imputed
        self.missing_inputs += other.missing_inputs
        for reason, n in other.dead_letters.items():
            self.dead_letters[reason] = self.dead_letters.get(reason, 0) + n
        for kind, n in other.anomalies.items():
            self.anomalies[kind] = self.anomalies.get(kind, 0) + n
