"""Place matching: does a delivery scan's place contradict the order's destination?

Postcodes are compared per country where that is simple (US ZIP5, UK outward code,
Canada's FSA, Irish routing key, the Netherlands' four digits; elsewhere letters
and digits), cities without case, accents or punctuation, with German
transliteration and common exonyms (Warsaw = Warszawa). :func:`place_stage_sql` is
the stage the ``delivered_elsewhere`` rule reads: one row per suspect shipment with
``country_diff``, ``pc_known``, ``pc_diff`` and ``city_differs``.

    >>> CITY_EXONYMS["warsaw"]
    'warszawa'
"""

from __future__ import annotations

from analysis.rules.sql import sql_str

# English and transliterated names of cities that carriers spell differently from
# buyers; keys and values are city keys (lower case, no accents, letters/digits).
CITY_EXONYMS = {
    "warsaw": "warszawa",
    "milan": "milano",
    "lisbon": "lisboa",
    "munich": "munchen",
    "muenchen": "munchen",
    "rome": "roma",
    "prague": "praha",
    "vienna": "wien",
    "cologne": "koln",
    "koeln": "koln",
    "moscow": "moskva",
    "kiev": "kyiv",
    "brussels": "bruxelles",
    "brussel": "bruxelles",
    "thehague": "denhaag",
    "sgravenhage": "denhaag",
    "gothenburg": "goteborg",
    "goeteborg": "goteborg",
    "copenhagen": "kobenhavn",
    "turin": "torino",
    "naples": "napoli",
    "florence": "firenze",
    "venice": "venezia",
    "genoa": "genova",
    "seville": "sevilla",
    "athens": "athina",
    "bucharest": "bucuresti",
    "belgrade": "beograd",
    "cracow": "krakow",
    "antwerp": "antwerpen",
    "geneva": "geneve",
    "zuerich": "zurich",
    "nuremberg": "nurnberg",
    "nuernberg": "nurnberg",
    "hanover": "hannover",
    "oporto": "porto",
    "mexicocity": "ciudaddemexico",
    "peking": "beijing",
    "canton": "guangzhou",
    "lyons": "lyon",
    "marseilles": "marseille",
    "basle": "basel",
    "berne": "bern",
    "lucerne": "luzern",
    "odessa": "odesa",
    "kharkov": "kharkiv",
    "lvov": "lviv",
    "salonica": "thessaloniki",
}


def postcode_key(pc: str, country: str) -> str:
    """A postcode reduced to what can be compared, per country where that is simple.

    US: ZIP5; GB: outward code; CA: forward sortation area; NL: the 4 digits;
    IE: routing key; elsewhere: letters and digits only.
    """
    clean = f"regexp_replace(upper({pc}), '[^A-Z0-9]', '', 'g')"
    return (
        f"CASE WHEN {pc} IS NULL THEN NULL "
        f"WHEN {country} = 'US' THEN left(regexp_replace({pc}, '[^0-9]', '', 'g'), 5) "
        f"WHEN {country} = 'GB' THEN regexp_replace({clean}, '[0-9][A-Z][A-Z]$', '') "
        f"WHEN {country} IN ('CA', 'IE') THEN left({clean}, 3) "
        f"WHEN {country} = 'NL' THEN regexp_extract({clean}, '^[0-9]{{4}}') "
        f"ELSE {clean} END"
    )


def city_key(city: str, german: bool) -> str:
    """A city reduced for comparison: no case, accents or punctuation (exonyms later)."""
    text = f"lower({city})"
    if german:
        # Transliterations like Muenchen for München, beside the plain accent strip.
        for src, dst in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
            text = f"replace({text}, '{src}', '{dst}')"
    text = f"regexp_replace(strip_accents({text}), '\\b(saint|sankt|ste|st)\\b', 'st', 'g')"
    return f"regexp_replace({text}, '[^a-z0-9]', '', 'g')"


def country_key(expr: str) -> str:
    """An ISO alpha-2 country as given (``UK`` read as ``GB``), NULL when it is not one."""
    upper = f"upper(trim({expr}))"
    return f"CASE WHEN {upper} = 'UK' THEN 'GB' WHEN length({upper}) = 2 THEN {upper} END"


def exonyms_values() -> str:
    """:data:`CITY_EXONYMS` as SQL ``VALUES`` rows ``(alias, canon)``."""
    return ", ".join(f"({sql_str(k)}, {sql_str(v)})" for k, v in CITY_EXONYMS.items())


# A ZIP in free text such as "AUSTIN, TX 73301" when the source gave no postcode.
_EV_POSTCODE = (
    "coalesce(nullif(trim(q.raw_postcode), ''), "
    "CASE WHEN q.dest_country = 'US' THEN nullif(regexp_extract(q.raw_location, "
    "'\\b[A-Z]{2}\\s+([0-9]{5})(-[0-9]{4})?\\b', 1), '') END)"
)
_EV_CITY = "nullif(trim(coalesce(q.raw_city, split_part(q.raw_location, ',', 1))), '')"
_CANON = "coalesce((SELECT x.canon FROM exonyms x WHERE x.alias = {k}), {k})"
_CITY_MATCH = (
    "(p.ev_ck1 = p.dest_ck1 OR p.ev_ck2 = p.dest_ck2 OR p.ev_ck1 = p.dest_ck2 "
    "OR p.ev_ck2 = p.dest_ck1 "
    "OR (least(length(p.ev_ck1), length(p.dest_ck1)) >= 4 "
    "AND (contains(p.ev_ck1, p.dest_ck1) OR contains(p.dest_ck1, p.ev_ck1))))"
)


def place_stage_sql(suspects: str) -> str:
    """The delivery place of each shipment ``suspects`` (a ``SELECT shipment_id``)
    names, compared with its destination (parameter ``$delivered_elsewhere_city``:
    whether cities are compared at all)."""
    return f"""
WITH
exonyms(alias, canon) AS (VALUES {exonyms_values()}),
-- The latest delivery scan (tracking_state keeps its fields) of the shipments
-- delivered now whose scan does not name the destination exactly (_pf_base).
suspects AS ({suspects}),
quick AS MATERIALIZED (
    SELECT t.shipment_id, t.delivery_event_key AS ev_key, t.delivery_event_poll_id AS ev_poll,
           t.delivery_event_at AS ev_at, t.delivery_utc_offset AS ev_offset,
           t.delivery_country AS raw_country, t.delivery_postcode AS raw_postcode,
           t.delivery_city AS raw_city, t.delivery_state AS raw_state,
           t.delivery_location AS raw_location, s.destination_country AS dest_country,
           nullif(trim(s.destination_postcode), '') AS dest_postcode,
           nullif(trim(s.destination_city), '') AS dest_city
    FROM (SELECT * FROM tracking_state WHERE shipment_id IN (FROM suspects)) t
    JOIN (SELECT * FROM shipments WHERE shipment_id IN (FROM suspects)) s USING (shipment_id)
),
place_raw AS (
    SELECT q.shipment_id, q.dest_country, q.dest_postcode, q.dest_city, q.ev_key, q.ev_poll,
           q.ev_at, q.ev_offset, {country_key("q.raw_country")} AS ev_country,
           {_EV_POSTCODE} AS ev_postcode, {_EV_CITY} AS ev_city,
           nullif(trim(q.raw_state), '') AS ev_state
    FROM quick q
),
place_keys AS (
    SELECT q.*,
           {postcode_key("q.ev_postcode", "coalesce(q.ev_country, q.dest_country)")} AS ev_pc,
           {postcode_key("q.dest_postcode", "q.dest_country")} AS dest_pc,
           {city_key("q.ev_city", False)} AS ev_k1, {city_key("q.ev_city", True)} AS ev_k2,
           {city_key("q.dest_city", False)} AS dest_k1,
           {city_key("q.dest_city", True)} AS dest_k2
    FROM place_raw q
),
place AS (
    SELECT q.*,
           {_CANON.format(k="q.ev_k1")} AS ev_ck1, {_CANON.format(k="q.ev_k2")} AS ev_ck2,
           {_CANON.format(k="q.dest_k1")} AS dest_ck1, {_CANON.format(k="q.dest_k2")} AS dest_ck2
    FROM place_keys q
)
    SELECT p.*,
           (p.ev_country IS NOT NULL AND p.dest_country IS NOT NULL
            AND p.ev_country <> p.dest_country) AS country_diff,
           (coalesce(p.ev_pc, '') <> '' AND coalesce(p.dest_pc, '') <> '') AS pc_known,
           (coalesce(p.ev_pc, '') <> '' AND coalesce(p.dest_pc, '') <> ''
            AND NOT starts_with(p.ev_pc, p.dest_pc) AND NOT starts_with(p.dest_pc, p.ev_pc))
               AS pc_diff,
           ($delivered_elsewhere_city AND coalesce(p.ev_ck1, '') <> ''
            AND coalesce(p.dest_ck1, '') <> '' AND NOT {_CITY_MATCH}) AS city_differs
    FROM place p
"""
