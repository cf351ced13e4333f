import re
from html import unescape

import pytest
from django.core.management import call_command

from tutor import curation
from tutor.bank_coverage import bank_coverage
from tutor.bank_lint import MIN_EXERCISES_PER_CELL
from tutor.models import Exercise
from tutor.taxonomy import CEFRLevel, ErrorSubCategory, ExerciseType

pytestmark = pytest.mark.django_db

PAGE = "/admin/tutor/exercise/coverage/"
CELL = re.compile(
    r'<td id="cell-(?P<sub>\d+)-(?P<level>[A-C][12])" data-count="(?P<count>\d+)" data-types="(?P<types>\d+)"\s+'
    r'class="(?P<state>[\w-]+)">\s*<a href="(?P<url>[^"]+)"'
)


@pytest.fixture
def shipped_bank():
    call_command("loaddata", "tutor/fixtures/exercises.json", verbosity=0)


def cells(html: str) -> dict[tuple[int, str], dict]:
    return {(int(m["sub"]), m["level"]): m.groupdict() for m in CELL.finditer(html)}


def by_id(html: str, element_id: str) -> str:
    return re.search(rf'id="{element_id}"[^>]*>(.*?)</t[dr]>', html, re.S)[1]


def test_every_cell_counts_the_active_exercises_of_its_subcategory_and_level(admin_client, shipped_bank):
    curation.set_active(Exercise.objects.filter(level="C2", errorSubCategory__in=[1, 5]), active=False)

    html = admin_client.get(PAGE).content.decode()

    shown = cells(html)
    assert len(shown) == len(ErrorSubCategory) * len(CEFRLevel) == 72
    active = Exercise.objects.filter(is_active=True)
    for (sub, level), cell in shown.items():
        here = active.filter(errorSubCategory=sub, level=level)
        assert int(cell["count"]) == here.count(), (sub, level)
        assert int(cell["types"]) == here.values("exercise_type").distinct().count(), (sub, level)
    for sub in ErrorSubCategory.values:
        assert by_id(html, f"total-row-{sub}") == str(active.filter(errorSubCategory=sub).count())
    for level in CEFRLevel.values:
        assert by_id(html, f"total-level-{level}") == str(active.filter(level=level).count())
    assert by_id(html, "total-all") == str(active.count())
    assert active.count() < Exercise.objects.count() == 379


def test_a_cell_breaks_its_count_down_by_exercise_type(make_exercise):
    make_exercise.create_batch(3, errorSubCategory=3, level="B1", exercise_type="gap_fill")
    make_exercise.create_batch(2, errorSubCategory=3, level="B1", exercise_type="multiple_choice")
    make_exercise(errorSubCategory=3, level="B1", exercise_type="retelling", is_active=False)
    make_exercise(errorSubCategory=3, level="B2", exercise_type="retelling")

    cell = next(c for c in bank_coverage().cells if (c.subcategory, c.level) == (3, "B1"))

    assert cell.by_type == (("gap_fill", 3), ("multiple_choice", 2))
    assert (cell.count, cell.types, cell.thin, cell.empty) == (5, 2, False, False)


def test_the_page_shows_the_types_of_a_cell(admin_client, make_exercise):
    make_exercise.create_batch(2, errorSubCategory=3, level="B1", exercise_type="multiple_choice")
    make_exercise(errorSubCategory=3, level="B1", exercise_type="gap_fill")

    html = admin_client.get(PAGE).content.decode()

    cell = re.search(r'id="cell-3-B1".*?</td>', html, re.S)[0]
    assert [unescape(t) for t in re.findall(r"<li>(.*?)</li>", cell)] == [
        f"{ExerciseType.GAP_FILL.label} 1",
        f"{ExerciseType.MULTIPLE_CHOICE.label} 2",
    ]


def test_deactivating_exercises_turns_a_cell_thin_then_empty(admin_client, shipped_bank):
    in_cell = Exercise.objects.filter(errorSubCategory=9, level="B1", is_active=True)
    assert in_cell.count() >= MIN_EXERCISES_PER_CELL
    assert cells(admin_client.get(PAGE).content.decode())[(9, "B1")]["state"] == "coverage-ok"

    curation.set_active(Exercise.objects.filter(pk__in=list(in_cell.values_list("pk", flat=True)[1:])), active=False)
    html = admin_client.get(PAGE).content.decode()

    assert cells(html)[(9, "B1")] | {"url": ""} == {
        "sub": "9",
        "level": "B1",
        "count": "1",
        "types": "1",
        "state": "coverage-thin",
        "url": "",
    }
    assert "Mispronounced_Word B1</a>,\n    1 active exercise of 1 type." in html

    curation.set_active(Exercise.objects.filter(errorSubCategory=9, level="B1"), active=False)
    html = admin_client.get(PAGE).content.decode()

    assert cells(html)[(9, "B1")]["state"] == "coverage-empty"
    assert re.search(r'id="thinnest-cell">Thinnest cell:\s*<a href="[^"]+">Mispronounced_Word B1</a>', html)
    assert re.search(r'<tbody>\s*<tr id="short-9-B1">', html), "the emptiest cell heads the list of short cells"


def test_a_cell_of_five_exercises_of_one_type_is_thin(make_exercise):
    make_exercise.create_batch(MIN_EXERCISES_PER_CELL, errorSubCategory=3, level="B1", exercise_type="gap_fill")

    cell = next(c for c in bank_coverage().short_cells if (c.subcategory, c.level) == (3, "B1"))

    assert (cell.count, cell.thin, cell.rules) == (5, True, ["one-type-cell"])


def test_a_cell_links_to_the_list_of_its_active_exercises(admin_client, shipped_bank):
    cell = Exercise.objects.filter(errorSubCategory=3, level="A2")
    curation.set_active(Exercise.objects.filter(pk=cell.first().pk), active=False)
    url = unescape(cells(admin_client.get(PAGE).content.decode())[(3, "A2")]["url"])

    listed = admin_client.get(url).context["cl"]

    assert {e.pk for e in listed.result_list} == set(cell.filter(is_active=True).values_list("pk", flat=True))
    assert listed.result_count == cell.count() - 1


def test_the_coverage_is_read_in_one_query(shipped_bank, django_assert_num_queries):
    with django_assert_num_queries(1):
        coverage = bank_coverage()
        assert (len(coverage.cells), coverage.short_cells) == (72, []), "the shipped bank has no thin cell"

    assert coverage.total == Exercise.objects.filter(is_active=True).count()


def test_the_admin_index_and_the_exercise_list_link_to_the_coverage_page(admin_client):
    for page in ("/admin/", "/admin/tutor/exercise/"):
        assert f'id="coverage-link" href="{PAGE}"' in admin_client.get(page).content.decode()


def test_the_coverage_page_needs_a_staff_login(client):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_staff_without_the_right_to_view_exercises_may_not_see_the_coverage(client, django_user_model):
    staff = django_user_model.objects.create_user(username="clerk", password="x" * 12, is_staff=True)
    client.force_login(staff)

    assert client.get(PAGE).status_code == 403
    assert "coverage-link" not in client.get("/admin/").content.decode()
