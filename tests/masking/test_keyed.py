"""Values named by their key: query strings in logged URLs, ``key=value`` lists, logfmt."""

from __future__ import annotations

import urllib.parse

import pyarrow as pa
import pytest
from faker import Faker

from nbwarden.identifiers import PERSON, PHONE, normalize_name
from nbwarden.masking import Masker

fake = Faker()


@pytest.fixture(autouse=True)
def same_data_in_any_order() -> None:
    Faker.seed(4321)


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker.for_profile(pseudonym_key=bytes(range(32)))


def test_a_query_strings_fields_are_masked_by_their_keys(masker: Masker) -> None:
    """No pattern finds ``Jane+Roe``, and ``%2B44...`` passes no phone pattern; a column
    of such URLs is scanned, so all of them were readable."""
    people = [(fake.name(), fake.email()) for _ in range(50)]
    urls = [
        "https://shop.example.com/checkout?"
        + urllib.parse.urlencode({"name": name, "email": email, "phone": "+44 20 7946 0958"})
        for name, email in people
    ]
    result = masker.mask_table(pa.table({"page_url": urls}))
    shown = "\n".join(result.table.column("page_url").to_pylist())
    for name, email in people:
        assert urllib.parse.quote_plus(name) not in shown
        assert urllib.parse.quote_plus(email) not in shown
    assert "7946" not in shown and shown.count("checkout?name=PERSON_") == len(people)
    subjects = {(s.entity_type, s.identifier) for s in result.subjects}
    assert (PERSON, normalize_name(people[0][0])) in subjects
    assert (PHONE, "+442079460958") in subjects


def test_a_name_in_a_url_has_the_pseudonym_it_has_as_written(masker: Masker) -> None:
    name = fake.name()
    in_url = masker.mask_text(f"GET /signup?name={urllib.parse.quote_plus(name)}&ref=ad")
    as_written = masker.mask_text(f"Signed up: {name}")
    pseudonym = next(word for word in as_written.text.split() if word.startswith("PERSON_"))
    assert f"name={pseudonym}&ref=ad" in in_url.text


def test_a_name_in_lower_case_counts_when_a_url_joins_its_words(masker: Masker) -> None:
    given, family = fake.first_name().lower(), fake.last_name().lower()
    masked = masker.mask_text(f"GET /signup?name={given}+{family}&ref=ad").text
    assert given not in masked and family not in masked and "&ref=ad" in masked


def test_key_value_lists_and_logfmt_are_masked_in_columns_and_in_shell_output(
    masker: Masker,
) -> None:
    people = [(fake.name(), fake.email(), fake.city()) for _ in range(60)]
    listed = [f"name={name};email={email};city={city}" for name, email, city in people]
    logfmt = [f'level=info name="{name}" email={email} op=login' for name, email, _ in people]
    for values in (listed, logfmt):
        column = masker.mask_table(pa.table({"attrs": values})).table.column("attrs")
        output = masker.mask_output("\n".join(values)).text
        for shown in ("\n".join(column.to_pylist()), output):
            assert not [name for name, _, _ in people if name in shown]
            assert not [email for _, email, _ in people if email in shown]
    assert "op=login" in output


@pytest.mark.parametrize(
    "code",
    [
        "UPDATE customers SET name=NULL, phone=NULL WHERE name=excluded.name",
        "INSERT INTO t (name) VALUES (:name) ON CONFLICT (id) DO UPDATE SET name=lower(name)",
        "df.rename(columns=dict(name=None)); plot(name=True, ip=ip_of(host))",
        "SELECT * FROM events WHERE dob=$1 AND phone=$2",
        "add_argument(dest, ..., name=value, ...)",
    ],
)
def test_code_keeps_its_structure(masker: Masker, code: str) -> None:
    """A value must read as its entity: a name is words of letters, other entities hold
    digits; so the SQL and Python of a cell's record stay as written."""
    assert masker.mask_text(code).text == code


def test_an_xml_elements_tag_names_its_text(masker: Masker) -> None:
    """An XML payload in a column has few spaces, so it was scanned by the patterns alone
    and its names stayed readable."""
    people = [(fake.name(), fake.city()) for _ in range(40)]
    payloads = [
        f'<customer id="{i}"><name>{name}</name><tier>gold</tier><town>{town}</town></customer>'
        for i, (name, town) in enumerate(people)
    ]
    shown = masker.mask_table(pa.table({"payload": payloads})).table.column("payload")
    text = "\n".join(shown.to_pylist())
    assert not [name for name, _ in people if name in text]
    assert text.count("<tier>gold</tier>") == len(people)


def test_a_key_on_a_line_of_its_own_names_the_rest_of_the_line(masker: Masker) -> None:
    """``ldapsearch`` prints a surname alone as ``sn: Roe``, which NER cannot tell from a
    word; an ID or a date after its key is left to its patterns and context words."""
    people = [(fake.first_name(), fake.last_name(), fake.user_name()) for _ in range(30)]
    ldif = "\n\n".join(
        f"dn: uid={user},ou=people,dc=example,dc=org\ncn: {given} {family}\nsn: {family}"
        for given, family, user in people
    )
    shown = masker.mask_output(ldif).text
    assert not [family for _, family, _ in people if f"sn: {family}" in shown]
    form = masker.mask_text("Order 1182\nDate of birth: 1984-03-02\nStatus: open").text
    assert "1984" not in form and form.endswith("Status: open")


@pytest.mark.parametrize(
    "code",
    [
        'name: str = "x"\nphone: Optional[str] = None',
        "Note: call back tomorrow\nName: see ticket",
    ],
)
def test_lines_of_code_and_notes_keep_their_keys_values(masker: Masker, code: str) -> None:
    assert masker.mask_text(code).text == code


@pytest.mark.parametrize(
    "text",
    [
        "WHERE email = '{email}'",
        "grep '{email}' app.log",
        "{{'email': '{email}', 'tier': 'gold'}}",
        "write to `{email}` instead",
    ],
)
def test_an_address_in_single_quotes_is_the_address(masker: Masker, text: str) -> None:
    """The quote before it was taken into the address: another pseudonym than the same
    address elsewhere, and a subject ``'jane@...`` no request for it found."""
    email = fake.email()
    quoted = masker.mask_text(text.format(email=email))
    plain = masker.mask_text(f"mail {email} now")
    pseudonym = plain.text.split()[1]
    assert f"'{pseudonym}'" in quoted.text or f"`{pseudonym}`" in quoted.text
    assert [s.identifier for s in quoted.subjects] == [email.lower()]


def test_a_pipe_before_an_address_ends_the_field_not_the_address(masker: Masker) -> None:
    """``psql -At`` separates fields with ``|``, which RFC 5322 allows in a local part:
    ``Gordon|jdoe@...`` was one address, a subject no request for ``jdoe@...`` found."""
    email = fake.email()
    result = masker.mask_text(f"Gordon|{email}|active")
    assert result.text.startswith("Gordon|EMAIL_ADDRESS_") and result.text.endswith("|active")
    emails = [s.identifier for s in result.subjects if s.entity_type == "EMAIL_ADDRESS"]
    assert emails == [email.lower()]


def test_a_quoted_login_name_is_masked_by_its_key_and_code_keeps_its_variables(
    masker: Masker,
) -> None:
    """``user="jsmith"`` and ``<login>jsmith</login>`` hold a login name; a bare value
    under ``user`` is a variable as often (``connect(user=username)``), and an address
    under it is recorded as the address it is."""
    user, email = fake.user_name(), fake.email()
    result = masker.mask_text(f'user="{user}" action=login <login>{user}</login> user={email}')
    assert user not in result.text and email not in result.text
    assert sorted(s.entity_type for s in result.subjects) == ["EMAIL_ADDRESS", "USER_NAME"]
    assert masker.mask_text("connect(user=username, login=login)").text == (
        "connect(user=username, login=login)"
    )
