"""Diagnosis of a service: from its cluster's own state (pods, events, logs), one rule per failure mode of the
seed, each giving the cause, the evidence and the fix in plain words; for a local service whose server is not
running, how and when it stopped (stopped)."""
