"""The corroboration tables: counted as the build writes the citations, they say what a count in SQL over the built
tables says (written here as the oracle, the way the tables once were views)."""

from __future__ import annotations

import json
import sqlite3

from iraq_transition.corroboration import CLAIM_CORROBORATION, CORROBORATION, Reports
from iraq_transition.layout import label_column
from iraq_transition.models import COLLECTIONS

LABELS = " UNION ALL ".join(f"SELECT '{c}' AS record_type, id, [{label_column(c)}] AS label FROM [{c}]"
                            for c in COLLECTIONS)
ORIGINS = """WITH RECURSIVE origin(id, root) AS (
    SELECT id, id FROM sources WHERE same_story_as IS NULL
    UNION ALL SELECT s.id, o.root FROM sources s JOIN origin o ON s.same_story_as = o.id
), linked(a, b) AS MATERIALIZED (
    SELECT o.root, coalesce(l.root, u.source) FROM source_shared_upstream u JOIN origin o ON o.id = u.source_id
    LEFT JOIN origin l ON l.id = u.source
), reach(id, other) AS (
    SELECT root, root FROM origin
    UNION SELECT r.id, CASE WHEN l.a = r.other THEN l.b ELSE l.a END FROM reach r JOIN linked l ON r.other IN (l.a, l.b)
), upstream(id, grp) AS (SELECT o.id, min(r.other) FROM origin o JOIN reach r ON r.id = o.root GROUP BY o.id)"""
COUNTS = "count(DISTINCT source_id), count(DISTINCT report), count(DISTINCT grp), group_concat(DISTINCT source_id)"
CITED = """SELECT c.*, coalesce(o.root, c.source_id) AS report, coalesce(u.grp, c.source_id) AS grp FROM citations c
    LEFT JOIN origin o ON o.id = c.source_id LEFT JOIN upstream u ON u.id = c.source_id"""
RECORDS = f"""{ORIGINS}, cited AS ({CITED}), labels AS ({LABELS})
SELECT cited.record_type, cited.record_id, labels.label, count(*), {COUNTS}
FROM cited JOIN labels ON labels.record_type = cited.record_type AND labels.id = cited.record_id WHERE part = ''
GROUP BY 1, 2 ORDER BY 1, 2"""
CLAIMS = f"""{ORIGINS}, cited AS ({CITED}), labels AS ({LABELS})
SELECT cited.record_type, cited.record_id, cited.part, claim.value, labels.label, count(*), {COUNTS}
FROM cited JOIN json_each(cited.supports) AS claim
JOIN labels ON labels.record_type = cited.record_type AND labels.id = cited.record_id
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"""


def test_the_tables_count_what_sql_over_the_citations_counts(cli, repo_copy):
    assert cli("--root", repo_copy, "build").code == 0
    with sqlite3.connect(repo_copy / "build" / "iraq-transition.db") as db:
        assert db.execute("SELECT count(*) FROM source_shared_upstream").fetchone()[0]  # the data has both links
        assert db.execute("SELECT count(*) FROM sources WHERE same_story_as IS NOT NULL").fetchone()[0]
        for table, oracle in ((CORROBORATION, RECORDS), (CLAIM_CORROBORATION, CLAIMS)):
            order = ", ".join(table.primary_key)
            counted = db.execute(f"SELECT * FROM {table.name} ORDER BY {order}").fetchall()
            expected = [(*row[:-1], json.dumps(sorted(row[-1].split(",")), separators=(",", ":")))
                        for row in db.execute(oracle)]
            assert counted == expected and len(counted) > 100, table.name
        repeated = db.execute("SELECT count(*) FROM claim_corroboration WHERE citations > sources").fetchone()[0]
        assert repeated  # claims that one source supports twice: its id is listed once
    lines = (repo_copy / "build" / "csv" / "claim_corroboration.csv").read_text().splitlines()
    assert lines[0] == ",".join(column.name for column in CLAIM_CORROBORATION.columns)
    assert len(lines) == 1 + len(counted)


def test_reports_follow_rewrites_to_the_original_and_join_suspected_upstreams_through_each_other():
    reports = Reports([
        ("a", None, ()), ("a-copy", "a-rewrite", ()), ("a-rewrite", "a", ()),
        ("b", None, ("c",)), ("c", None, ()), ("d", None, ("c", "not-a-source")), ("e", None, ()),
    ])
    assert reports.report == {"a": "a", "a-copy": "a", "a-rewrite": "a", "b": "b", "c": "c", "d": "d", "e": "e"}
    assert reports.group == {"a": "a", "a-copy": "a", "a-rewrite": "a", "b": "b", "c": "b", "d": "b", "e": "e"}
    assert Reports([("loop-1", "loop-2", ()), ("loop-2", "loop-1", ())]).report == {"loop-1": "loop-1",
                                                                                  "loop-2": "loop-2"}
