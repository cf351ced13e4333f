"""The bank's coverage: how many active exercises, of which types, each (subcategory, level) cell holds.

A cell is empty without active exercises, and thin when it breaks a cell rule of the bank lint
(`bank_lint.cell_rules`: fewer than `MIN_EXERCISES_PER_CELL` exercises, or of fewer than
`MIN_TYPES_PER_CELL` types), so that the coverage page and `check_bank` never disagree.
"""

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count

from tutor.bank_lint import cell_rules
from tutor.models import Exercise
from tutor.taxonomy import SUBCATEGORIES_BY_CATEGORY, CEFRLevel, ErrorCategory, ErrorSubCategory, ExerciseType


@dataclass(frozen=True)
class Cell:
    subcategory: int
    level: str
    by_type: tuple[tuple[str, int], ...]  # (exercise type, active exercises), in the taxonomy's order of types

    @property
    def count(self) -> int:
        return sum(count for _, count in self.by_type)

    @property
    def types(self) -> int:
        return len(self.by_type)

    @property
    def rules(self) -> list[str]:
        return cell_rules(active=self.count, types=self.types)

    @property
    def empty(self) -> bool:
        return self.count == 0

    @property
    def thin(self) -> bool:
        """Whether the cell has exercises but too few, or of too few types."""
        return not self.empty and bool(self.rules)

    @property
    def name(self) -> str:
        return f"{ErrorSubCategory(self.subcategory).label} {self.level}"

    @property
    def type_labels(self) -> list[tuple[str, int]]:
        return [(ExerciseType(kind).label, count) for kind, count in self.by_type]


@dataclass(frozen=True)
class Row:
    subcategory: int
    cells: tuple[Cell, ...]  # one per level, A1 to C2

    @property
    def label(self) -> str:
        return ErrorSubCategory(self.subcategory).label

    @property
    def total(self) -> int:
        return sum(cell.count for cell in self.cells)


@dataclass(frozen=True)
class CategoryRows:
    category: int
    rows: tuple[Row, ...]

    @property
    def label(self) -> str:
        return ErrorCategory(self.category).label


@dataclass(frozen=True)
class Coverage:
    groups: tuple[CategoryRows, ...]

    @property
    def cells(self) -> list[Cell]:
        return [cell for group in self.groups for row in group.rows for cell in row.cells]

    @property
    def level_totals(self) -> list[tuple[str, int]]:
        return [(level, sum(cell.count for cell in self.cells if cell.level == level)) for level in CEFRLevel.values]

    @property
    def total(self) -> int:
        return sum(cell.count for cell in self.cells)

    @property
    def by_thinness(self) -> list[Cell]:
        """Every cell, the thinnest first: fewest exercises, then fewest types, then in the taxonomy's order."""
        return sorted(self.cells, key=lambda cell: (cell.count, cell.types))

    @property
    def short_cells(self) -> list[Cell]:
        """The empty and thin cells, the thinnest first."""
        return [cell for cell in self.by_thinness if cell.rules]


def bank_coverage() -> Coverage:
    """Return the active exercises per (subcategory, level) cell and per type, counted in one query."""
    counts: dict[tuple[int, str], dict[str, int]] = defaultdict(dict)
    rows = (
        Exercise.objects.filter(is_active=True)
        .order_by()
        .values_list("errorSubCategory", "level", "exercise_type")
        .annotate(count=Count("pk"))
    )
    for subcategory, level, kind, count in rows:
        counts[(subcategory, level)][kind] = count
    return Coverage(
        groups=tuple(
            CategoryRows(
                category=category,
                rows=tuple(
                    Row(
                        subcategory=subcategory,
                        cells=tuple(_cell(subcategory, level, counts) for level in CEFRLevel.values),
                    )
                    for subcategory in subcategories
                ),
            )
            for category, subcategories in SUBCATEGORIES_BY_CATEGORY.items()
        )
    )


def _cell(subcategory: int, level: str, counts: dict[tuple[int, str], dict[str, int]]) -> Cell:
    by_kind = counts.get((subcategory, level), {})
    return Cell(
        subcategory=subcategory,
        level=level,
        by_type=tuple((kind, by_kind[kind]) for kind in ExerciseType.values if kind in by_kind),
    )
