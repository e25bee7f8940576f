"""taskmill: turn raw material into instruction-tuning datasets.

Core package: what every stage shares (record schema, run store, config,
engine interface, executors, CLI). Methods live in the top-level packages
`generators`, `filters`, `selection`; orchestration lives in `flows`.
"""

__version__ = "0.1.0"
