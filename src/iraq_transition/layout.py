"""The table layout: every table the build makes and its columns, derived once from the models.

Each collection is a table (nested models flattened into prefixed columns, a date also into its earliest and latest
possible day); each list of models in it a child table (``event_participants``); every citation, at any depth, a row
of ``citations``; the collection whose texts citations quote (:func:`.fields.quoted_collection`) gets a ``text``
column. The layout reads the models through :mod:`.fields` only.

Tables and columns render themselves for each consumer: SQLite (:meth:`Table.create_sql`, :meth:`Table.index_sql`,
:meth:`Table.insert_sql`) for the build, Frictionless Table Schema (:meth:`Table.to_resource`) for
``datapackage.json``, Datasette descriptions (:meth:`Table.to_datasette`) for the site. Beside the tables, the row
getters of each collection (:class:`CollectionPlan`), which turn its records into rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from operator import attrgetter
from typing import Any

from pydantic import BaseModel

from .fields import field_specs, is_model, model_description, quoted_collection
from .labels import LABEL_COLUMN, label_description, label_field, needs_label_column, record_label
from .models import COLLECTIONS, ISO_DATE_PATTERN, NOT_IN_TEXT, SLUG_PATTERN, TEXT_PATTERN, Citation, FuzzyDate

CITATIONS = "citations"
TEXT_COLUMN = "text"
"""The column of the quoted collection that holds each record's archived text."""
CSV_LINE_TERMINATOR = "\r\n"
SQL_TYPES = {
    "string": "TEXT", "date": "TEXT", "array": "TEXT", "integer": "INTEGER", "boolean": "INTEGER", "number": "REAL"
}
SCALAR_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}
CSV_BOOLEANS = ("false", "true")
"""How the CSVs write a boolean (SQLite stores 0 and 1): what pandas, R and spreadsheets read as booleans."""

SORT_SUFFIX = "sort"
"""A date's column to sort by is ``<date>_sort``."""
SORT_DESCRIPTION = (
    "Day to sort by (YYYY-MM-DD), never empty when the date is given: the earliest possible day (start) where it is "
    "known, else the first day of value (for a deadline, 'by 2025-09', or circa). An order, not a bound: filter "
    "on start and end."
)

Getter = Callable[[Any], Any]


def sql_name(name: str) -> str:
    """``name`` quoted as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Column:
    """One column of a table, with the constraints its model field declares."""

    name: str
    type: str  # Frictionless field type: string, integer, number, boolean, date or array
    description: str
    required: bool = False  # never null
    references: str | None = None  # table whose ``id`` this column holds
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]

    def to_sql(self) -> str:
        """The column's definition in ``CREATE TABLE``: type, NOT NULL, foreign key."""
        sql = f"{sql_name(self.name)} {self.sql_type}"
        if self.required:
            sql += " NOT NULL"
        if self.references:
            sql += f" REFERENCES {sql_name(self.references)}(\"id\")"
        return sql

    def to_table_schema(self) -> dict[str, Any]:
        """The column as a Frictionless Table Schema field (booleans are ``true``/``false`` in the CSVs)."""
        field: dict[str, Any] = {"name": self.name, "type": self.type, "description": self.description}
        if self.type == "boolean":
            field |= {"trueValues": [CSV_BOOLEANS[1]], "falseValues": [CSV_BOOLEANS[0]]}
        constraints = {
            "required": self.required or None,
            "enum": list(self.enum) if self.enum else None,
            "pattern": _table_schema_pattern(self.pattern),
            "minLength": self.min_length,
            "maxLength": self.max_length,
            "minimum": self.minimum,
            "maximum": self.maximum,
        }
        constraints = {name: value for name, value in constraints.items() if value is not None}
        if constraints:
            field["constraints"] = constraints
        return field


def _table_schema_pattern(pattern: str | None) -> str | None:
    """A model's anchored Python regex as a Table Schema pattern (XML Schema style: implicitly anchored), less
    the characters text may not hold: XML Schema regexes cannot name them, and the CSVs hold validated text."""
    if pattern is None or pattern == TEXT_PATTERN:
        return None
    return pattern.replace(NOT_IN_TEXT, "").removeprefix("^").removesuffix("$").replace("(?:", "(")


@dataclass(frozen=True)
class Table:
    """One table of the build: a collection, a list field of one (``event_participants``), or ``citations``."""

    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        return next(column for column in self.columns if column.name == name)

    @property
    def foreign_keys(self) -> tuple[tuple[str, str], ...]:
        """(column, referenced table) pairs; the referenced column is always ``id``."""
        return tuple((column.name, column.references) for column in self.columns if column.references)

    def create_sql(self) -> str:
        """``CREATE TABLE``: typed columns, NOT NULL, primary key and foreign keys."""
        lines = [column.to_sql() for column in self.columns]
        lines.append(f"PRIMARY KEY ({', '.join(map(sql_name, self.primary_key))})")
        return f"CREATE TABLE {sql_name(self.name)} (\n    " + ",\n    ".join(lines) + "\n)"

    def insert_sql(self) -> str:
        """``INSERT`` of one row, its values in column order."""
        return f"INSERT INTO {sql_name(self.name)} VALUES ({', '.join('?' * len(self.columns))})"

    def csv_rows(self, rows: Iterable[tuple]) -> Iterable[tuple]:
        """``rows`` (as SQLite holds them) as the CSV file writes them: booleans as ``true``/``false``."""
        booleans = {index for index, column in enumerate(self.columns) if column.type == "boolean"}
        if not booleans:
            return rows
        return (
            tuple(value if value is None or index not in booleans else CSV_BOOLEANS[value] for index, value in enumerate(row))
            for row in rows
        )

    def index_sql(self, browsed: tuple[str, ...] = ()) -> list[str]:
        """An index on every foreign-key column and every ``browsed`` column (faceted or sorted by on the site),
        except one the primary key's index already leads with."""
        columns = dict.fromkeys([column for column, _ in self.foreign_keys] + list(browsed))
        return [
            f"CREATE INDEX {sql_name(f'idx_{self.name}_{column}')} ON {sql_name(self.name)}({sql_name(column)})"
            for column in columns
            if column != self.primary_key[0]
        ]

    def to_resource(self, path: str) -> dict[str, Any]:
        """The table as a Frictionless tabular data resource, its CSV file at ``path``."""
        schema: dict[str, Any] = {
            "fields": [column.to_table_schema() for column in self.columns],
            "missingValues": [""],
            "primaryKey": list(self.primary_key),
        }
        if self.foreign_keys:
            schema["foreignKeys"] = [
                {"fields": column, "reference": {"resource": target, "fields": "id"}} for column, target in self.foreign_keys
            ]
        return {
            "name": self.name,
            "path": path,
            "profile": "tabular-data-resource",
            "title": self.name.replace("_", " ").capitalize(),
            "description": self.description,
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "dialect": {
                "delimiter": ",",
                "lineTerminator": CSV_LINE_TERMINATOR,
                "quoteChar": '"',
                "doubleQuote": True,
                "header": True,
            },
            "schema": schema,
        }

    def to_datasette(self) -> dict[str, Any]:
        """The table's entry in Datasette's metadata: its description and its columns' (the site adds the rest)."""
        columns = {column.name: column.description for column in self.columns if column.description}
        return {"description": self.description, "columns": columns}


# --------------------------------------------------------------------------- the layout, and the row getters beside it


@dataclass(frozen=True)
class TablePlan:
    """A table and the getter of each of its columns but the context ones (parent id, position, the text)."""

    table: Table
    getters: tuple[Getter, ...]


@dataclass(frozen=True)
class CollectionPlan:
    """How a collection's records become rows: of its table, of its child tables and of citations."""

    collection: str
    record: TablePlan
    children: tuple[tuple[str, TablePlan], ...]  # (list field, its child table)
    cited: bool  # whether the records carry citations (sources do not)
    cited_fields: tuple[str, ...]  # list fields whose items carry citations
    quoted: bool  # whether citations quote its records' texts: rows end with the text
    label_column: str  # the column that names its records, never empty

    @property
    def tables(self) -> tuple[Table, ...]:
        return (self.record.table, *(child.table for _, child in self.children))

    @property
    def label_index(self) -> int:
        """Where the label column is in the rows of the collection's table (whose first column is the id)."""
        return [column.name for column in self.record.table.columns].index(self.label_column)


@dataclass
class _Flat:
    """A model flattened into columns, with a getter per column, and the list fields left over."""

    columns: list[Column]
    getters: list[Getter]
    children: list[tuple[str, type[BaseModel]]]  # list-of-model fields other than citations
    cited: bool  # whether the model has a ``citations`` list


def singular(collection: str) -> str:
    """``events`` -> ``event``: names child tables and their parent-id columns."""
    return collection.removesuffix("s")


@cache
def collection_plans() -> tuple[CollectionPlan, ...]:
    """Every collection's tables and row getters, in the order of :data:`.models.COLLECTIONS`."""
    return tuple(_collection_plan(collection, model) for collection, model in COLLECTIONS.items())


@cache
def table_layout() -> tuple[Table, ...]:
    """Every table of the build, in creation order: each collection followed by its child tables, then citations."""
    return (*(table for plan in collection_plans() for table in plan.tables), _citations_table())


def table(name: str) -> Table:
    """The table called ``name`` in :func:`table_layout`."""
    return next(table for table in table_layout() if table.name == name)


def label_column(collection: str) -> str:
    """The column that names ``collection``'s records, never empty: its label field (events.title, actors.name...),
    the ``label`` column made for a label field that may be empty, or else the id."""
    return next(plan.label_column for plan in collection_plans() if plan.collection == collection)


def _collection_plan(collection: str, model: type[BaseModel]) -> CollectionPlan:
    flat = _flatten(model)
    label = label_field(model) or "id"
    if needs_label_column(model):  # after the id
        label = LABEL_COLUMN
        flat.columns.insert(1, Column(LABEL_COLUMN, "string", label_description(model), required=True))
        flat.getters.insert(1, record_label)
    columns = flat.columns
    quoted = collection == quoted_collection()
    if quoted:
        text = "Full text of the archived article in seeds/; citation offsets index into it."
        columns = [*columns, Column(TEXT_COLUMN, "string", text, required=True)]
    record = TablePlan(Table(collection, model_description(model), tuple(columns), ("id",)), tuple(flat.getters))
    children = []
    cited_fields = []
    parent = singular(collection)
    parent_id = f"{parent}_id"
    for field, item_model in flat.children:
        item = _flatten(item_model, top_level=False)
        if item.cited:
            cited_fields.append(field)
        context = [
            Column(parent_id, "string", f"Id of the {parent} this row belongs to.", required=True, references=collection),
            Column("position", "integer", f"0-based position in the {parent}'s {field} list.", required=True, minimum=0),
        ]
        name = f"{parent}_{field}"
        description = f"{model_description(item_model)} One row per item of {collection}.{field}."
        child = Table(name, description, (*context, *item.columns), (parent_id, "position"))
        children.append((field, TablePlan(child, tuple(item.getters))))
    plan = CollectionPlan(collection, record, tuple(children), flat.cited, tuple(cited_fields), quoted, label)
    for made in plan.tables:
        names = [column.name for column in made.columns]
        if len(set(names)) != len(names):
            raise TypeError(f"table {made.name}: flattened column names collide: {names}")
    return plan


def _citations_table() -> Table:
    texts = f"{quoted_collection()}.{TEXT_COLUMN}"
    context = [
        Column("record_type", "string", "Collection of the cited record.", required=True, enum=tuple(COLLECTIONS)),
        Column("record_id", "string", "Id of the cited record.", required=True, pattern=SLUG_PATTERN),
        Column(
            "part",
            "string",
            "Which part of the record the citation supports: empty for the record itself, else list field "
            "and 0-based position, e.g. 'postures.0'.",
            pattern=r"^[a-z_]+\.[0-9]+$",
        ),
        Column("position", "integer", "0-based position in the part's citations list.", required=True, minimum=0),
    ]
    flat = _flatten(Citation, top_level=False)
    renamed = [dataclasses.replace(c, name="source_id") if c.name == "source" else c for c in flat.columns]
    offsets = [
        Column("start_offset", "integer", f"Character offset in {texts} where the span starts.", required=True, minimum=0),
        Column("end_offset", "integer", f"Character offset in {texts} just after the span.", required=True, minimum=0),
    ]
    description = f"{model_description(Citation)} Every citation of every record, at any depth."
    primary_key = ("record_type", "record_id", "part", "position")
    return Table(CITATIONS, description, (*context, *renamed, *offsets), primary_key)


def _flatten(model: type[BaseModel], top_level: bool = True) -> _Flat:
    """Columns for the scalar and nested-model fields of ``model``; list-of-model fields are left to child tables."""
    flat = _Flat([], [], [], False)
    for spec in field_specs(model):
        name, base, description = spec.name, spec.base, spec.description
        if spec.is_list:
            if base is Citation:
                flat.cited = True
            elif is_model(base) and top_level:
                flat.children.append((name, base))
            elif base is str:
                flat.columns.append(Column(name, "array", f"{description} A JSON array.", required=not spec.optional))
                flat.getters.append(_getter(name, json_array))
            else:
                raise TypeError(f"{model.__name__}.{name}: a list of {base} has no table layout")
        elif is_model(base):
            nested = _flatten(base, top_level=False)
            if nested.children or nested.cited:
                raise TypeError(f"{model.__name__}.{name}: nested lists inside {base.__name__} have no table layout")
            for column, getter in zip(nested.columns, nested.getters):
                flat.columns.append(
                    dataclasses.replace(
                        column,
                        name=f"{name}_{column.name}",
                        description=f"{description} — {column.name}: {column.description}",
                        required=column.required and not spec.optional,
                    )
                )
                flat.getters.append(_within(name, getter))
            if base is FuzzyDate:
                for end, (which, index) in {"start": ("Earliest", 0), "end": ("Latest", 1)}.items():
                    flat.columns.append(
                        Column(
                            f"{name}_{end}",
                            "date",
                            f"{description} — {which} possible day (YYYY-MM-DD) from value, qualifier and "
                            "earliest/latest; null when open.",
                        )
                    )
                    flat.getters.append(_within(name, lambda date, index=index: date.bounds()[index]))
                flat.columns.append(
                    Column(
                        f"{name}_{SORT_SUFFIX}",
                        "date",
                        f"{description} — {SORT_DESCRIPTION}",
                        required=not spec.optional,
                    )
                )
                flat.getters.append(_within(name, FuzzyDate.sort_day))
        elif base in SCALAR_TYPES:
            constraints = {
                key: getattr(spec, key)
                for key in ("enum", "references", "pattern", "min_length", "max_length", "minimum", "maximum")
            }
            kind = SCALAR_TYPES[base]
            if spec.pattern == ISO_DATE_PATTERN:  # a day: a date to Table Schema, pandas and R, not a text
                kind, constraints["pattern"] = "date", None
            flat.columns.append(Column(name, kind, description, required=not spec.optional, **constraints))
            flat.getters.append(_getter(name, int if base is bool else None))
        else:
            raise TypeError(f"{model.__name__}.{name}: type {base} has no column type")
    return flat


def _getter(name: str, convert: Callable[[Any], Any] | None) -> Getter:
    if convert is None:
        return attrgetter(name)
    return lambda obj: None if (value := getattr(obj, name)) is None else convert(value)


def _within(name: str, getter: Getter) -> Getter:
    return lambda obj: None if (inner := getattr(obj, name)) is None else getter(inner)


def json_array(values: list[str]) -> str:
    """``values`` as a JSON array, written as every list column of the build is (no spaces, as SQLite's
    ``json_group_array`` writes the views'), at a third of the cost of ``json.dumps``."""
    return f"[{','.join(map(encode_basestring, values))}]"
