"""The rules of openapi.yaml that a JSON Schema cannot state, applied to the fuzzer's valid cases.

Each operation's description states its rules; most of them the schema states too, and the
fuzzer obeys those by itself. The rest depend on something outside the request — today's date,
the resident's birth and registration, what is already stored (a certificate's holder, the
current indicator definitions, a case's earlier step) — or tie two values together in a way
JSON Schema has no word for (an ID number's check character, a village code beginning with its
town's code, `gaps` only in a workbook). For a request the fuzzer generated as valid (positive
mode), `obey` below changes the values it made up so that they keep those rules, reading what
it needs through the API; the rest of the request stays the fuzzer's. A request generated as
invalid (negative mode) is never touched, so the server's refusals are still checked, and no
check is turned off.

A date the fuzzer made up is replaced by a day that every date rule of the file admits: today
(the server's day is Asia/Shanghai's, never earlier than this machine's UTC day), the day after
today for a date that must lie ahead, a year on for an end of validity.
"""

import datetime
import os
import re
import secrets
import sys

import yaml
from schemathesis.core.parameters import ParameterLocation

ADMIN_PASSWORD = os.environ["REGISTRY_ADMIN_PASSWORD"]

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONTH = re.compile(r"^\d{4}-\d{2}$")
ID_NUMBER = re.compile(r"^\s*(\d{17})[\dXx]\s*$")
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECK_CHARS = "10X98765432"
CATEGORY_DIGITS = {
    "visual": "1",
    "hearing": "2",
    "speech": "3",
    "physical": "4",
    "intellectual": "5",
    "mental": "6",
    "multiple": "7",
}


def _spec():
    with open(os.path.join(os.path.dirname(__file__), "..", "openapi.yaml"), encoding="utf-8") as f:
        return yaml.safe_load(f)


_SCHEMAS = _spec()["components"]["schemas"]
TOWNS = list(_SCHEMAS["TownCode"]["enum"])
DEVICE_MODES = list(_SCHEMAS["DeviceMode"].get("enum") or [])


# The district's day (UTC+8), as the server counts it: between 16:00 and 24:00 UTC it is
# already tomorrow there.
RECORD_OF_A_RESIDENT = re.compile(
    r"^POST /api/v1/residents/\{id\}/(?!reveal$|moves$|employment$)[a-z-]+$"
)
DISTRICT_TIME = datetime.timezone(datetime.timedelta(hours=8))


def today():
    return datetime.datetime.now(DISTRICT_TIME).date()


def day(offset=0):
    return (today() + datetime.timedelta(days=offset)).isoformat()


def check_character(first17):
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, WEIGHTS)) % 11]


def valid_id_number(raw):
    """The generated number with a real birth date in the past and its check character."""
    match = ID_NUMBER.match(raw) if isinstance(raw, str) else None
    if match:
        digits = match.group(1)
    else:
        # Not `random`: hypothesis seeds it, and the same numbers would come back every call.
        born = datetime.date(1950, 1, 1) + datetime.timedelta(days=secrets.randbelow(20000))
        digits = "330213" + born.strftime("%Y%m%d") + "%03d" % secrets.randbelow(1000)
    try:
        born = datetime.datetime.strptime(digits[6:14], "%Y%m%d").date()
        if not datetime.date(1900, 1, 1) <= born <= today():
            raise ValueError
    except ValueError:
        digits = digits[:6] + "19800101" + digits[14:]
    return digits + check_character(digits)


# ---- the rules, by operation ----------------------------------------------------------------


def _dates(value):
    """Every made-up date of a JSON body replaced, at any depth (see the module's comment)."""
    if isinstance(value, dict):
        for key, member in value.items():
            if isinstance(member, str) and DATE.match(member):
                if key == "effective_from":
                    continue  # set by the operation's own rule
                value[key] = day(365) if key.endswith("_until") else day()
            elif key == "year" and isinstance(member, int):
                value[key] = today().year
            else:
                _dates(member)
    elif isinstance(value, list):
        for member in value:
            _dates(member)


class Rules:
    def __init__(self, case, kind, api):
        self.case = case
        self.kind = kind
        self.api = api
        self.body = case.body if isinstance(case.body, dict) else None
        self.query = case.query if isinstance(case.query, dict) else None
        self.params = case.path_parameters or {}

    def resident(self):
        answer = self.api.get(self.kind, f"/api/v1/residents/{self.params.get('id')}")
        return answer.json() if answer.status_code == 200 else None

    def first_definitions_day(self):
        answer = self.api.get(self.kind, "/api/v1/indicator-definitions")
        if answer.status_code != 200:
            return None
        days = [v.get("effective_from") for v in _items(answer.json()) if not v.get("withdrawn_at")]
        return min((d for d in days if d), default=None)

    # -- query ------------------------------------------------------------------------------

    def query_rules(self):
        query = self.query
        if not query:
            return
        # `to` must be after `from` (audit events).
        start, end = _instant(query.get("from")), _instant(query.get("to"))
        if start and end:
            if end < start:
                query["from"], query["to"] = query["to"], query["from"]
            elif end == start:
                del query["to"]
        # Gap lists are sheets of a workbook.
        if query.get("gaps") not in (None, False, "false") and query.get("format") != "xlsx":
            query["format"] = "xlsx"
        # A file holds the whole list: paging is for JSON.
        if query.get("format") not in (None, "json"):
            query.pop("limit", None)
            query.pop("cursor", None)
        if isinstance(query.get("as_of"), str) and DATE.match(query["as_of"]):
            query["as_of"] = self.as_of(query["as_of"])

    def as_of(self, wanted):
        """A day on which indicator definitions are in force, not after today."""
        first = self.first_definitions_day()
        if first and wanted < first:
            return first
        return min(wanted, day())

    # -- bodies -----------------------------------------------------------------------------

    def body_rules(self):
        body = self.body
        if body is None:
            return
        operation = f"{self.case.method.upper()} {self.case.operation.path}"
        as_of = body.get("as_of")
        _dates(body)
        if isinstance(as_of, str) and DATE.match(as_of):
            body["as_of"] = self.as_of(as_of)
        if isinstance(body.get("id_number"), str):
            body["id_number"] = valid_id_number(body["id_number"])
        # A village is one of the town's, known to the register: none is always right.
        if body.get("village_code") is not None:
            body["village_code"] = None
        # A grant starts in a month of the resident's life with a policy in force, at the
        # latest next month: this month is one.
        if isinstance(body.get("start_month"), str) and MONTH.match(body["start_month"]):
            body["start_month"] = today().strftime("%Y-%m")
        # A record, grant, case or certificate added to a resident is dated today (above):
        # one who died or moved out before today gets none, so it goes to a resident in the
        # district (moves and employment make their own, below).
        if RECORD_OF_A_RESIDENT.match(operation):
            self.resident_in_district()
        special = {
            "POST /api/v1/areas": self.village_code,
            "POST /api/v1/indicator-definitions": self.definitions,
            "POST /api/v1/me/password": self.current_password,
            "PATCH /api/v1/residents/{id}": self.household_status,
            "POST /api/v1/residents/{id}/moves": self.move,
            "POST /api/v1/residents/{id}/subsidies": self.override_reason,
            "POST /api/v1/residents/{id}/certificates": self.certificate_number,
            "PATCH /api/v1/residents/{id}/assistive-devices/{record_id}": self.device_mode,
            "POST /api/v1/residents/{id}/employment": self.fresh_resident,
            "PATCH /api/v1/users/{id}": self.user_towns,
            "POST /api/v1/applications": self.channel,
            "PATCH /api/v1/residents/{id}/insurance/{record_id}": self.enrolled,
        }.get(operation)
        if special:
            special()

    def village_code(self):
        """A village code is 12 digits beginning with its town's code."""
        town = self.body.get("parent_code")
        code = self.body.get("code")
        if isinstance(town, str) and isinstance(code, str):
            tail = (re.sub(r"\D", "", code) + "001")[-3:]
            self.body["code"] = town + tail

    def definitions(self):
        """A new version: one entry per indicator, each of its kind, in force after the others."""
        answer = self.api.get(self.kind, "/api/v1/indicator-definitions")
        if answer.status_code != 200:
            return
        versions = [v for v in _items(answer.json()) if not v.get("withdrawn_at")]
        if not versions:
            return
        latest = max(versions, key=lambda v: v.get("effective_from") or "")
        after = max(latest.get("effective_from") or day(), day())
        self.body["effective_from"] = (
            datetime.date.fromisoformat(after) + datetime.timedelta(days=1)
        ).isoformat()
        self.body["indicators"] = latest.get("indicators") or []

    def current_password(self):
        self.body["current_password"] = ADMIN_PASSWORD

    def household_status(self):
        """`household_status_since` only comes with a new `household_status`, after the current
        period's start; a village lies in the resident's town (which the patch may change)."""
        resident = self.resident() or {}
        current = resident.get("household_status_since") or ""
        if current >= day():
            # A period that began today: a new one can only begin tomorrow, in the future.
            self.body.pop("household_status", None)
        if self.body.get("household_status") is None:
            self.body.pop("household_status_since", None)
        if self.body.get("town_code") not in (None, resident.get("town_code")):
            self.body["village_code"] = None

    def move(self):
        """A move goes to another town, after the resident's last move: a resident who has not
        moved yet, made for it."""
        self.fresh_resident()
        self.body["town_code"] = TOWNS[1]
        self.body.pop("village_code", None)

    def enrolled(self):
        """Only an enrolment can be paid by the government: a patch may leave a stored one,
        which the spec cannot see (a new record keeps the rule by the spec's `anyOf`)."""
        if self.body.get("government_paid"):
            self.body["enrolled"] = True
        elif self.body.get("enrolled") is False:
            self.body["government_paid"] = False

    def channel(self):
        """Staff record counter or caseworker applications; a client's come through its own
        channel and name none."""
        if self.kind == "client":
            self.body.pop("channel", None)
        elif self.body.get("channel") == "zheliban":
            self.body["channel"] = "counter"

    def user_towns(self):
        """A caseworker has at least one town, the other roles none (a patch may leave the
        stored role)."""
        role = self.body.get("role")
        if role is None:
            answer = self.api.get(self.kind, f"/api/v1/users/{self.params.get('id')}")
            role = answer.json().get("role") if answer.status_code == 200 else None
        if role == "caseworker":
            if "towns" in self.body and not self.body["towns"]:
                self.body["towns"] = [TOWNS[0]]
        elif self.body.get("towns"):
            self.body["towns"] = []

    def override_reason(self):
        """A grant to a resident who is not eligible needs a reason; one that overrides nothing
        is not recorded."""
        if not self.body.get("override_reason"):
            self.body["override_reason"] = "contract fuzzing"

    def certificate_number(self):
        """The number is the holder's ID number, the category digit and the grade digit."""
        answer = self.api.post(
            self.kind,
            f"/api/v1/residents/{self.params.get('id')}/reveal",
            {"field": "id_number"},
        )
        if answer.status_code != 200:
            return
        category = CATEGORY_DIGITS.get(self.body.get("category"), "4")
        grade = self.body.get("grade")
        grade = str(int(grade)) if isinstance(grade, (int, float)) and 1 <= grade <= 4 else "1"
        self.body["number"] = answer.json()["value"] + category + grade

    def device_mode(self):
        """A device fitted says how it was provided: a patch may leave a stored fitting, which
        the spec cannot see (a new record keeps the rule by the spec's `anyOf`)."""
        if self.body.get("mode") is None and ("mode" in self.body or self.body.get("fitted_on")):
            self.body["mode"] = DEVICE_MODES[0]

    def resident_in_district(self):
        """The case's resident, or a fresh one when it has died or moved out."""
        resident = self.resident()
        if resident and (resident.get("deceased_on") or resident.get("moved_out_on")):
            self.fresh_resident()

    def fresh_resident(self):
        """A spell of employment may not overlap another: it goes to a resident with none."""
        resident = self.resident()
        if resident is None:
            return
        for _ in range(3):
            made = self.api.post(
                self.kind,
                "/api/v1/residents",
                {
                    "id_number": valid_id_number(""),
                    "name": "模糊测试",
                    "town_code": TOWNS[0],
                    "registered_on": "2020-01-01",
                },
            )
            if made.status_code == 201:
                self.case.path_parameters["id"] = made.json()["id"]
                return
        print(f"rules: no fresh resident: {made.status_code} {made.text[:300]}", file=sys.stderr)

    # -- text bodies ------------------------------------------------------------------------

    def csv_header(self):
        """An import begins with its header (the template's for residents)."""
        body = self.case.body
        if not isinstance(body, (str, bytes)):
            return
        if self.case.operation.path == "/api/v1/imports/areas":
            header = "code,name,town_code"
        elif self.case.operation.path == "/api/v1/imports/residents":
            answer = self.api.get(self.kind, "/api/v1/imports/residents/template", {"format": "csv"})
            if answer.status_code != 200:
                return
            header = answer.content.decode("utf-8-sig").splitlines()[0]
        else:
            return
        # The fuzzer's text becomes the first cell of each row, quoted, the other cells empty:
        # rows the import reads and judges one by one, as the spec describes.
        if isinstance(body, bytes):
            body = body.decode("utf-8", errors="replace")
        cells = header.count(",")
        rows = ['"%s"%s' % (line.replace('"', '""'), "," * cells) for line in body.splitlines()]
        self.case.body = "\n".join([header, *rows]) + "\n"


def _instant(value):
    """An instant or a day of a query, comparable with another (a day is its UTC midnight)."""
    if not isinstance(value, str):
        return None
    try:
        instant = datetime.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return instant if instant.tzinfo else instant.replace(tzinfo=datetime.timezone.utc)


def _items(answer):
    if isinstance(answer, list):
        return answer
    if isinstance(answer, dict):
        for key in ("items", "versions"):
            if isinstance(answer.get(key), list):
                return answer[key]
    return []


def obey(case, kind, api, valid):
    """Applies the rules to each part of the request that the fuzzer generated as valid."""
    rules = Rules(case, kind, api)
    if valid(ParameterLocation.QUERY):
        rules.query_rules()
    if valid(ParameterLocation.BODY):
        rules.body_rules()
        rules.csv_header()
