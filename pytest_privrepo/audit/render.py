"""The report as a readable table (one line per finding, its fix below) and as JSON.

Why a module of its own: the CLI prints both, ``assert_clean()`` fails with the table,
and neither belongs in the values of :mod:`.report`.
"""

from __future__ import annotations

import json
import textwrap

from .report import AuditReport

__all__ = ["render_json", "render_text"]

_WIDTH = 100


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*header).rstrip(), *(fmt.format(*r).rstrip() for r in rows)]


def render_text(report: AuditReport) -> str:
    """Sources, packages, then every finding with its fix; a last line with the verdict."""
    lines = [f"privrepo audit of {report.project} with {report.client} {report.client_version}"]
    lines.append("")
    lines.append("sources:")
    rows = []
    for s in report.sources:
        creds = ", ".join(s.credential_variables) or "no credentials"
        cert = (", ".join(s.certificate_variables) or "no certificate") if s.private_ca else "public CA"
        rows.append([s.name, s.role, s.url, creds, cert])
    lines += ["  " + line for line in _table(rows, ["NAME", "ROLE", "URL", "CREDENTIALS", "TLS"])]
    lines.append("")
    lines.append("packages:")
    rows = [[p.name, p.version, p.expected_source,
             f"{p.resolved_version} from {p.resolved_source}" if p.resolved_source else "-",
             "ok" if p.ok else "MISMATCH"] for p in report.packages]
    lines += ["  " + line for line in _table(rows, ["PACKAGE", "LOCKED", "LOCKED FROM",
                                                    "RESOLVED", ""])]
    for name, why in report.skipped:
        lines.append(f"  {name}: not audited ({why})")
    if report.requests:
        lines.append("")
        lines.append("requests through the gateway: "
                     + ", ".join(f"{host} {count}" for host, count in report.requests))
    if report.ignored_variables:
        lines.append("")
        lines.append("CI variables not given to the client: " + ", ".join(report.ignored_variables))
    lines.append("")
    if report.findings:
        lines.append(f"findings ({len(report.findings)}):")
        width = max(len(f.kind) for f in report.findings)
        for f in report.findings:
            head, *rest = f.message.splitlines() or [""]
            lines.append(f"  {f.kind:<{width}}  {f.subject}: {head}")
            pad = " " * (width + 4)
            lines += [pad + "| " + line for line in rest]
            fix = textwrap.wrap(f"fix: {f.fix}", _WIDTH - len(pad)) or ["fix:"]
            lines += [pad + line for line in fix]
        lines.append("")
        lines.append(f"FAILED: {len(report.findings)} finding(s)")
    else:
        lines.append("clean: every package resolved from the source the lock names, no leak")
    return "\n".join(lines)


def render_json(report: AuditReport) -> str:
    """:meth:`AuditReport.to_dict` as indented JSON (what ``--json`` prints)."""
    return json.dumps(report.to_dict(), indent=2)
