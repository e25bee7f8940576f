"""What the quality gate did, per generator, as markdown (run summary artifact and dataset card).

The numbers come from flows/quality.py: for each generator, candidates →
parsed (kept by the generator) → after the gate (rule filters + task-form
checks) → after dedup/decontamination → after the round-trip check → after the judge → selected, the
rejects by stage and reason, and a few kept and rejected sample records.
"""

from __future__ import annotations

from typing import Any

FUNNEL_COLUMNS = ("candidates", "parsed", "after_gate", "curated", "roundtrip", "judged", "selected")


def _cell(text: Any, limit: int = 160) -> str:
    flat = " ".join(str(text).split())
    flat = flat if len(flat) <= limit else flat[: limit - 1] + "…"
    return flat.replace("|", "\\|")


def _tail(text: str, limit: int) -> str:
    """The end of an instruction: after a prepended passage the task is at the end."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else "…" + flat[-(limit - 1) :]


def render_quality_markdown(quality: dict[str, Any], samples: bool = True) -> str:
    """Markdown: a funnel table, a rejects table, then per generator a few sample records."""
    if not quality:
        return "_no generators_\n"
    present = [c for c in FUNNEL_COLUMNS if any(row.get(c) is not None for row in quality.values())]
    lines = ["| generator | " + " | ".join(present) + " | kept share |", "|---|" + "---|" * (len(present) + 1)]
    for name, row in quality.items():
        last = next((row[c] for c in reversed(present) if row.get(c) is not None), 0)
        share = f"{last / row['candidates']:.0%}" if row.get("candidates") else "-"
        lines.append(f"| {name} | " + " | ".join(str(row.get(c, "-")) for c in present) + f" | {share} |")
    lines += ["", "| generator | rejected at | reason | records |", "|---|---|---|---|"]
    for name, row in quality.items():
        for stage, reasons in row.get("rejects", {}).items():
            lines += [f"| {name} | {stage} | {reason} | {n} |" for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1])]
    if samples:
        for name, row in quality.items():
            kept, rejected = row.get("samples_kept", []), row.get("samples_rejected", [])
            if not kept and not rejected:
                continue
            lines += ["", f"**{name}: sample records** (instruction tail → response)", "", "| | reason | instruction | response |", "|---|---|---|---|"]
            lines += [f"| kept | | {_cell(_tail(s['instruction'], 160))} | {_cell(s['output'], 120)} |" for s in kept]
            lines += [
                f"| rejected | {s['reason']} | {_cell(_tail(s['instruction'], 160))} | {_cell(s['output'], 120)} |" for s in rejected
            ]  # fmt: skip
    return "\n".join(lines) + "\n"


def render_quality_text(quality: dict[str, Any]) -> list[str]:
    out = []
    for name, row in quality.items():
        steps = " → ".join(f"{row[c]} {c}" for c in FUNNEL_COLUMNS if row.get(c) is not None)
        out.append(f"  quality {name}: {steps}")
        gate = {**row.get("rejects", {}).get("gate", {})}
        if gate:
            top = ", ".join(f"{reason} {n}" for reason, n in sorted(gate.items(), key=lambda kv: -kv[1])[:5])
            more = f", +{len(gate) - 5} more" if len(gate) > 5 else ""  # the counts shown must not pass for all of them
            out.append(f"    gate rejects: {top}{more}")
        disagree = row.get("rejects", {}).get("roundtrip", {})
        if disagree:
            out.append("    round-trip rejects: " + ", ".join(f"{reason} {n}" for reason, n in sorted(disagree.items())))
    return out
