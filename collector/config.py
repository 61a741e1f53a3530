"""Typed settings from ``parcelproof.toml``.

The file is found via ``--config``, ``PARCELPROOF_CONFIG``, ``./parcelproof.toml`` or
``~/.config/parcelproof/parcelproof.toml`` (:mod:`collector.paths`); with none of them
the defaults below apply. Unknown keys and wrong types are errors
that name the key (``carriers.17track.requests_per_second: expected a number``).

Secrets (API keys) come from the environment (``api_key_env``) or the file
(``api_key``), never from the command line, and are wrapped in :class:`Secret`, whose
repr is masked so that they cannot leak into logs by accident::

    >>> Secret("abc123")
    Secret('***')
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from collector.errors import ConfigError
from collector.paths import config_candidates, reports_dir


class Secret:
    """A secret value whose repr and str are masked; :meth:`reveal` gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself: pass it to the client, never to a log."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class SourceConfig:
    """One ``[sources.<name>]`` table: how to reach one source.

    The keys below are common to every source; a source's own keys (its
    ``options_type``) are validated by that source and kept in ``options``.
    Credentials are named, not written: ``api_key_env`` for a static key,
    ``client_id_env``/``client_secret_env`` for OAuth2 client credentials.
    """

    base_url: str | None = None
    api_key_env: str | None = None
    api_key: Secret | None = None
    client_id_env: str | None = None
    client_secret_env: str | None = None
    client_id: Secret | None = None
    client_secret: Secret | None = None
    #: The OAuth2 token endpoint, when it is not the source's own path under base_url.
    token_url: str | None = None
    requests_per_second: float | None = None
    batch_size: int | None = None
    daily_quota: int | None = None
    timeout_seconds: float = 20.0
    max_retries: int = 4
    max_retry_wait_seconds: float = 60.0
    max_body_bytes: int = 5_000_000
    enabled: bool = True
    lang: str = "en-US"
    #: The source's own settings (an instance of its ``options_type``); not a TOML key.
    options: Any = None
    #: The table the settings came from (``sources``, or the deprecated ``carriers``),
    #: so that messages name the key as the user wrote it; not a TOML key.
    table: str = "sources"

    def secret(self) -> Secret | None:
        """The API key: from the environment variable when set, else from the file."""
        return _from_env(self.api_key_env, self.api_key)

    def client_credentials(self) -> tuple[Secret, Secret] | None:
        """The OAuth2 client id and secret (environment first, then the file), if both are set."""
        client_id = _from_env(self.client_id_env, self.client_id)
        client_secret = _from_env(self.client_secret_env, self.client_secret)
        if client_id and client_secret:
            return client_id, client_secret
        return None


def _from_env(variable: str | None, fallback: Secret | None) -> Secret | None:
    if variable:
        value = os.environ.get(variable)
        if value:
            return Secret(value)
    return fallback


#: SourceConfig fields that are not keys of a table.
_INTERNAL_SOURCE_FIELDS = frozenset({"options", "table"})


@dataclass(frozen=True)
class RoutingConfig:
    """``[routing]``: which sources poll which courier; the first usable one wins.

    ``default`` applies to every courier without its own entry; other keys are
    courier codes (``usps = ["17track"]``) or ``unknown`` for undetected numbers.
    """

    default: tuple[str, ...] = ("17track", "cainiao")
    couriers: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def sources_for(self, courier: str | None) -> tuple[str, ...]:
        """The ordered candidate sources for a courier code (or None)."""
        key = courier or "unknown"
        return self.couriers.get(key, self.default)


@dataclass(frozen=True)
class PollConfig:
    """``[poll]``: scheduling of the poller."""

    interval_hours: float = 6.0
    not_found_backoff_hours: float = 12.0
    not_found_backoff_max_hours: float = 96.0
    final_grace_days: float = 3.0
    limit: int | None = None
    database_busy_timeout_seconds: float = 30.0
    #: A number registered in this run and answered "not looked up yet" is asked
    #: again after this many seconds (doubling), at most ``pending_rechecks`` times.
    pending_recheck_seconds: float = 5.0
    pending_rechecks: int = 2
    #: A poll sends nothing unless the disk under the database has this much room
    #: (answers that could not be stored would be lost, and their quota spent).
    min_free_megabytes: float = 100.0


@dataclass(frozen=True)
class RulesConfig:
    """``[rules]``: thresholds of the flags (sources of each default in the README)."""

    # Each default's source is in the README's flag table.
    not_found_days: float = 7.0
    not_found_critical_days: float = 21.0
    label_only_days: float = 7.0
    stalled_days: float = 10.0
    stalled_critical_days: float = 21.0
    overdue_grace_days: float = 0.0
    protection_warning_days: float = 7.0
    delivered_elsewhere_city: bool = True
    number_reused_days: float = 365.0
    scan_before_order_hours: float = 0.0


@dataclass(frozen=True)
class DisputesConfig:
    """``[disputes]``: per-marketplace dispute windows (sources in the README)."""

    aliexpress_open_after_days: float = 11.0
    aliexpress_grace_days: float = 15.0
    aliexpress_default_protection_days: float = 60.0
    ebay_window_days: float = 30.0
    amazon_wait_days: float = 3.0
    amazon_window_days: float = 90.0
    paypal_window_days: float = 180.0
    visa_window_days: float = 120.0
    visa_wait_days: float = 15.0
    mastercard_window_days: float = 120.0
    mastercard_wait_days: float = 30.0
    card_cap_days: float = 540.0
    ask_seller_before_days: float = 7.0
    # Each default's source is in the README's dispute-window section.
    aliexpress_protection_days_ru: float = 90.0
    aliexpress_protection_days_br: float = 120.0
    amazon_seller_wait_hours: float = 48.0
    paypal_escalate_days: float = 20.0
    fallback_expected_days: float = 30.0
    other_window_days: float = 30.0
    escalate_to_card: bool = True


@dataclass(frozen=True)
class CasesConfig:
    """``[cases]``: the clocks of a dispute once the buyer acts (sources in the README).

    ``*_reply_days``: how long to give the seller after ``contacted_seller`` before
    opening; ``*_response_days``: the seller's time to answer an ``opened`` dispute
    before escalating; ``*_escalate_by_days``: the last day to escalate, counted from
    opening; ``*_decision_days``: how long the marketplace (or card issuer) usually
    takes after escalation before a follow-up is due. eBay's clocks are business days
    (Monday to Friday). Where no marketplace publishes a time the default is short
    (the buyer acts early rather than late) and the README says so.
    """

    aliexpress_reply_days: float = 3.0
    aliexpress_response_days: float = 5.0
    aliexpress_escalate_by_days: float = 15.0
    aliexpress_decision_days: float = 7.0
    ebay_reply_business_days: float = 3.0
    ebay_response_business_days: float = 3.0
    ebay_escalate_by_business_days: float = 21.0
    ebay_decision_days: float = 2.0
    amazon_reply_days: float = 2.0
    amazon_response_days: float = 2.0
    amazon_decision_days: float = 7.0
    paypal_reply_days: float = 3.0
    paypal_response_days: float = 7.0
    paypal_escalate_by_days: float = 20.0
    paypal_decision_days: float = 10.0
    visa_response_days: float = 30.0
    mastercard_response_days: float = 45.0
    card_reply_days: float = 3.0
    other_reply_days: float = 3.0
    other_response_days: float = 7.0
    other_escalate_by_days: float = 14.0
    other_decision_days: float = 7.0
    evidence_answer_days: float = 3.0
    #: A case deadline this close is listed first (status, flags, run --quiet).
    due_soon_days: float = 3.0


@dataclass(frozen=True)
class ReportsConfig:
    """``[reports]``: evidence packs.

    ``out_dir``: relative to the config file's folder; unset, ``reports/`` beside the
    database (:func:`Settings.reports_dir`). ``dropshipper``: the orders are your
    customers' (you bought on their behalf), so the pack's statement for the
    marketplace's reviewer says "my customer has not received it".
    """

    out_dir: str | None = None
    formats: tuple[str, ...] = ("html", "pdf", "png", "json")
    dropshipper: bool = False


@dataclass(frozen=True)
class MailConfig:
    """``[mail]``: where ``import-mail`` (and ``run``) read shipping e-mails.

    ``sources`` are paths (an .eml file, a folder of them, an mbox, a Maildir) or
    ``imaps://user@host[:port]/FOLDER``; the IMAP password is read from the
    environment variable named by ``password_env``, never from the command line.
    ``ca_file`` adds a CA bundle to verify the server's certificate with.
    """

    sources: tuple[str, ...] = ()
    password_env: str = "PARCELPROOF_MAIL_PASSWORD"
    ca_file: str | None = None
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class AlertsConfig:
    """``[alerts]``: what ``run`` sends when flags are raised or a last day comes near.

    By e-mail (``email_to``, through the SMTP server ``smtp_host``:``smtp_port``,
    STARTTLS unless ``smtp_starttls = false``, logging in as ``smtp_user`` with the
    password from the variable named by ``smtp_password_env``) and/or as a JSON POST
    to ``webhook_url``. ``deadline_days``: a shipment to act on is announced once,
    in the first run after its last day comes within this many days.
    """

    email_to: tuple[str, ...] = ()
    email_from: str = "parcelproof@localhost"
    smtp_host: str = "localhost"
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_user: str | None = None
    smtp_password_env: str | None = None
    webhook_url: str | None = None
    deadline_days: float = 3.0
    timeout_seconds: float = 20.0

    @property
    def enabled(self) -> bool:
        """Whether any alert is configured."""
        return bool(self.email_to or self.webhook_url)


@dataclass(frozen=True)
class Settings:
    """The whole configuration; every field has a working default."""

    sources: dict[str, SourceConfig] = field(default_factory=dict)
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    poll: PollConfig = field(default_factory=PollConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    disputes: DisputesConfig = field(default_factory=DisputesConfig)
    cases: CasesConfig = field(default_factory=CasesConfig)
    reports: ReportsConfig = field(default_factory=ReportsConfig)
    mail: MailConfig = field(default_factory=MailConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    #: ``[import.columns]``: a spreadsheet's column name -> import field.
    import_columns: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    #: What the file should change (a deprecated table name ...), said by ``poll``.
    warnings: tuple[str, ...] = ()

    @property
    def carriers(self) -> dict[str, SourceConfig]:
        """The source tables under their former name (``[carriers.<name>]``)."""
        return self.sources

    def source(self, name: str) -> SourceConfig:
        """The settings of one source (defaults when it has no table)."""
        return self.sources.get(name, SourceConfig())

    def reports_dir(self, db_path: Path | None) -> Path:
        """Where packs go: ``[reports] out_dir``, else ``reports/`` beside ``db_path``."""
        return reports_dir(self.reports.out_dir, config_path=self.path, db_path=db_path)


def find_config_path(explicit: str | os.PathLike[str] | None) -> Path | None:
    """``--config``, then ``PARCELPROOF_CONFIG``, then the first of ``./parcelproof.toml``
    and ``~/.config/parcelproof/parcelproof.toml`` that exists."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("PARCELPROOF_CONFIG")
    if env:
        return Path(env)
    return next((path for path in config_candidates() if path.exists()), None)


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Load and validate the configuration file found from ``path``.

    >>> load_settings(None).rules.stalled_days   # no file: defaults
    10.0
    """
    found = find_config_path(path) if path is not None else find_config_path(None)
    if found is None:
        return Settings()
    try:
        raw = tomllib.loads(found.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {found}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{found}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{found}: cannot read: {exc}") from exc
    return settings_from_dict(raw, path=found)


def settings_from_dict(raw: dict[str, Any], path: Path | None = None) -> Settings:
    """Validate a parsed TOML document into :class:`Settings` (errors name the key)."""
    where = f"{path}: " if path else ""
    try:
        raw = dict(raw)
        sources, warnings = _source_tables(raw.pop("sources", {}), raw.pop("carriers", None))
        routing_raw = dict(raw.pop("routing", {}))
        default = _convert(
            routing_raw.pop("default", list(RoutingConfig.default)),
            tuple[str, ...],
            "routing.default",
        )
        couriers = {
            str(k): _convert(v, tuple[str, ...], f"routing.{k}") for k, v in routing_raw.items()
        }
        routing = RoutingConfig(default=default, couriers=couriers)
        import_raw = raw.pop("import", {})
        if not isinstance(import_raw, dict) or set(import_raw) - {"columns"}:
            raise _TypeProblem("import", "expected a table with only a columns table")
        columns_raw = import_raw.get("columns", {})
        if not isinstance(columns_raw, dict) or not all(
            isinstance(v, str) for v in columns_raw.values()
        ):
            raise _TypeProblem("import.columns", "expected 'Source column' = 'field' strings")
        sections: dict[str, Any] = {"import_columns": {str(k): v for k, v in columns_raw.items()}}
        for name, cls in (
            ("poll", PollConfig),
            ("rules", RulesConfig),
            ("disputes", DisputesConfig),
            ("cases", CasesConfig),
            ("reports", ReportsConfig),
            ("mail", MailConfig),
            ("alerts", AlertsConfig),
        ):
            sections[name] = _build(cls, raw.pop(name, {}), name)
        if raw:
            key = sorted(raw)[0]
            raise _TypeProblem(key, "unknown key")
    except _TypeProblem as exc:
        raise ConfigError(f"{where}{exc.key}: {exc.problem}") from None
    return Settings(
        sources=sources, routing=routing, path=path, warnings=tuple(warnings), **sections
    )


def _source_tables(
    sources_raw: Any, carriers_raw: Any
) -> tuple[dict[str, SourceConfig], list[str]]:
    """``[sources.<name>]`` tables, and the deprecated ``[carriers.<name>]`` ones."""
    warnings: list[str] = []
    out: dict[str, SourceConfig] = {}
    for table, tables in (("sources", sources_raw), ("carriers", carriers_raw)):
        if tables is None:
            continue
        if not isinstance(tables, dict):
            raise _TypeProblem(table, "expected a table")
        for key, spec in tables.items():
            name = str(key)
            if name in out:
                raise _TypeProblem(f"{table}.{name}", f"also given as [sources.{name}]")
            out[name] = _source_config(name, spec, table)
            if table == "carriers":
                warnings.append(
                    f"[carriers.{name}] is deprecated: rename the table to [sources.{name}]"
                )
    return out, warnings


def _source_config(name: str, table: Any, prefix: str) -> SourceConfig:
    """One source table: the common keys, then the source's own keys (its options)."""
    where = f"{prefix}.{name}"
    if not isinstance(table, dict):
        raise _TypeProblem(where, "expected a table")
    common_names = {f.name for f in dataclasses.fields(SourceConfig)} - _INTERNAL_SOURCE_FIELDS
    common = {k: v for k, v in table.items() if k in common_names}
    own = {k: v for k, v in table.items() if k not in common_names}
    config = _build(SourceConfig, common, where)
    options_type = _options_type(name)
    if own and options_type is None:
        raise _TypeProblem(f"{where}.{sorted(own)[0]}", "unknown key")
    options = _build(options_type, own, where) if options_type is not None else None
    check = getattr(options, "check", None)
    problem = check() if callable(check) else None
    if problem is not None:  # (key, what is wrong): the source's own validation
        raise _TypeProblem(f"{where}.{problem[0]}", problem[1])
    return dataclasses.replace(config, options=options, table=prefix)


def _options_type(name: str) -> type[Any] | None:
    """The options dataclass of source ``name`` (None: unknown source or no own keys)."""
    # Imported here: the registry imports the sources, which import this module.
    from collector.sources.registry import source_class

    try:
        return source_class(name).options_type
    except ConfigError:
        return None  # an unknown source is reported where it is used (poll, routing)


class _TypeProblem(Exception):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


_T = TypeVar("_T")


def _build(cls: type[_T], table: Any, prefix: str) -> _T:
    if not isinstance(table, dict):
        raise _TypeProblem(prefix, "expected a table")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in names:
            raise _TypeProblem(f"{prefix}.{key}", "unknown key")
        values[key] = _convert(value, hints[key], f"{prefix}.{key}")
    return cls(**values)


def _convert(value: Any, hint: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(value, inner[0], key)
    if hint is Secret:
        if not isinstance(value, str):
            raise _TypeProblem(key, "expected a string")
        return Secret(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise _TypeProblem(key, "expected true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _TypeProblem(key, f"expected a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _TypeProblem(key, f"expected a number, got {value!r}")
        if value < 0:
            raise _TypeProblem(key, f"must not be negative, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise _TypeProblem(key, f"expected a string, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _TypeProblem(key, "expected a list of strings")
        return tuple(value)
    raise _TypeProblem(key, f"unsupported setting type {hint!r}")  # pragma: no cover
