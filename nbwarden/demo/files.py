"""The files of a demo directory: nbwarden.toml, the guided notebook and a shell-visible log."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from nbwarden.demo.synthetic import DemoData

CONFIG_NAME = "nbwarden.toml"
NOTEBOOK_NAME = "guided-demo.ipynb"
LOG_PATH = Path("logs") / "webshop.log"
DB_URL_ENV = "NBWARDEN_DEMO_DB_URL"
"""Holds the PostgreSQL URL when it has a password, so the password stays out of the file."""

USERS = {"analyst": "analyst", "approver": "dpo", "auditor": "auditor"}
"""Config role -> the demo user who has it."""


def toml_string(value: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, except that TOML also escapes DEL."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def config_text(db_url: str) -> str:
    return f"""\
# nbwarden demo configuration, written by `nbwarden demo` (it rewrites this file).
# Reference: docs/admin.md. Relative paths are resolved against this directory.

[audit]
path = "audit/provenance.duckdb"
key_file = "audit/nbwarden.key"

[connections.prod]
url = {toml_string(db_url)}
row_cap = 1000
timeout_s = 30

[shell.local]
kind = "local"
workdir = "."
timeout_s = 30

[masking]
profile = "default"

[policy]
require_purpose = true

[roles]
analysts = [{toml_string(USERS["analyst"])}]
approvers = [{toml_string(USERS["approver"])}]
auditors = [{toml_string(USERS["auditor"])}]
"""


def make_private(*paths: Path) -> None:
    """Owner-only access: with ``[gateway] kernel_user`` kernels run as another OS user,
    and must not read the raw database, the log or the audit files behind the gateway."""
    for path in paths:
        if path.exists():
            path.chmod(0o700 if path.is_dir() else 0o600)


def write_config(directory: Path, db_url: str) -> Path:
    path = directory / CONFIG_NAME
    path.write_text(config_text(db_url), encoding="utf-8")
    return path


def write_notebook(directory: Path) -> Path | None:
    """Write the guided notebook unless one is already there (it may hold the user's edits)."""
    path = directory / NOTEBOOK_NAME
    if path.exists():
        return None
    notebook = new_notebook(cells=guided_cells())  # type: ignore[no-untyped-call]
    notebook.metadata["kernelspec"] = {
        "name": "nbwarden",
        "display_name": "Python 3 (nbwarden)",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    nbformat.write(notebook, str(path))  # type: ignore[no-untyped-call]
    return path


def write_log(directory: Path, data: DemoData, lines: int = 300) -> Path:
    """A web-shop access log with personal data, for the guided shell cell to read."""
    path = directory / LOG_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as log:
        for event in data.events[-lines:]:
            payload = event["payload"]
            who = payload.get("email", "-")
            log.write(
                f"{event['occurred_at'].isoformat()}Z INFO {event['event_type']} "
                f"user={who} ip={payload['ip']} page={payload['page']}\n"
            )
    return path


def guided_cells() -> list[nbformat.NotebookNode]:
    """The guide as notebook cells (nbformat's cell factories are untyped)."""
    return [
        new_markdown_cell(source) if kind == "md" else new_code_cell(source)  # type: ignore[no-untyped-call]
        for kind, source in _GUIDE
    ]


_GUIDE: tuple[tuple[str, str], ...] = (
    (
        "md",
        """# nbwarden guided demo

You are logged in as **analyst**. Every `%%sql` and `%%sh` cell in this notebook goes to the
nbwarden gateway inside the Jupyter server: it checks the code against the policy, holds
risky cells for the data-protection officer (DPO), masks personal data in what comes back and
writes a tamper-evident provenance record.

The database `prod` is synthetic: customers from eight European and American locales with
names, e-mails, phones, IBANs, birth dates, addresses and national IDs; orders, support
tickets and web events. Keep the **DPO** and **auditor** login URLs from the terminal at hand
(open them in a private window or another browser so the logins do not mix).""",
    ),
    (
        "md",
        """## 1. Declare a purpose

This demo's policy has `require_purpose = true`: a governed cell without a declared purpose is
held for approval. The purpose is written into every provenance record of this session.""",
    ),
    ("code", "%purpose Churn analysis for the Q1 retention campaign"),
    (
        "md",
        """## 2. Query customers: the results come back masked

Names, e-mails, phones, IBANs and national IDs are replaced by pseudonyms before the result
reaches the kernel. Checksummed identifiers (IBAN, national IDs) are recognised by their
check digits, not only by their shape. The masking summary under the table counts what was
masked.""",
    ),
    (
        "code",
        """%%sql prod
SELECT customer_id, full_name, email, phone, iban, national_id, city, country
FROM customers
ORDER BY customer_id
LIMIT 10""",
    ),
    (
        "md",
        """## 3. Join, then analyse in Python: pseudonyms still group

Pseudonyms are deterministic and keyed, so the same e-mail always masks to the same value:
joins, `GROUP BY` and counts keep working on masked data, while the real address never
enters the notebook. `<< spend` stores the masked result in a pandas DataFrame.""",
    ),
    (
        "code",
        """%%sql prod << spend
SELECT c.email, c.country, o.order_id, o.amount
FROM customers c JOIN orders o ON o.customer_id = c.customer_id
WHERE c.customer_id <= 200""",
    ),
    (
        "code",
        """spend.groupby(["email", "country"])["amount"].agg(["count", "sum"]).sort_values(
    "sum", ascending=False
).head(10)""",
    ),
    (
        "md",
        """## 4. A write waits for the DPO

A customer asked for their phone number to be corrected (GDPR Art. 16). Writing to production
is flagged by the policy (`sql.write`): the cell waits and shows the pending approval.

Now open the **DPO** URL from the terminal, open the **Approvals** panel (left sidebar, or
*nbwarden: Open Approvals* in the command palette), and approve the request with a legal
basis (for example *legal obligation, Art. 6(1)(c)*). The analyst cannot approve their own
request. Once approved, this cell runs. (An unbounded `SELECT * FROM support_tickets` is
flagged the same way, as `sql.unbounded_read`.)""",
    ),
    (
        "code",
        """%%sql prod
UPDATE customers SET phone = '+44 20 7946 0000' WHERE customer_id = 2""",
    ),
    (
        "md",
        """## 5. Some things are never allowed

Dropping a table is blocked outright (`sql.drop_object`). The refusal is recorded too.""",
    ),
    ("code", "%%sql prod\nDROP TABLE customers"),
    (
        "md",
        """## 6. Shell cells are governed too

`%%sh local` runs on the registered shell target `local` (this demo directory). The command
is parsed (read-only commands like `tail` and `grep` pass; deleting files or sending data
elsewhere does not) and its output is masked as text.""",
    ),
    ("code", "%%sh local\ntail -n 5 logs/webshop.log"),
    (
        "md",
        """## 7. Answer a subject-access request as the auditor

Open the **auditor** URL from the terminal, open **nbwarden Audit** (Launcher, or the command
palette) and run a DSAR for the e-mail printed in the terminal (the first customer, returned
by the query in step 2). The report lists every execution that returned that person's data:
when, who, which notebook and cell, for which purpose, under which legal basis, from which
tables. The provenance store
holds only keyed hashes of identifiers, never the e-mail itself.

From a terminal the same report is `nbwarden dsar --email ADDRESS`, and
`nbwarden audit verify` proves the record chain is intact.""",
    ),
)
