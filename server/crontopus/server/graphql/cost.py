"""The estimated size of a result, refused over budget before the operation runs.

Depth and alias limits bound the shape of a document, not what it fetches: `jobs(first: 100)`
with `endpoints` and, under each, the endpoint's `jobs` asks for a million values in twelve
levels. The estimate multiplies the page size of every list along each path: `first` or
`count` (given, from a variable, or the argument's default) or, for a list without either,
`LIST_SIZE`. A connection's `first` sizes its `edges` and `nodes`. Of the fragments on
different types of a union or interface, only the costliest counts, as one object is only
ever one of them.

The estimate depends on the document and on the values of the variables that size lists, so
`DocumentCost` works out once per document which variables those are and remembers the verdict
for each combination of their values it meets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from graphql.language import Visitor, visit

#: Arguments that say how many items a list field returns.
SIZE_ARGUMENTS = ("first", "count", "last")
#: The size assumed for a list whose field takes no size argument (labels, members, ...).
LIST_SIZE = 10
#: Verdicts kept per document, one per distinct combination of sizing variables.
VERDICTS_PER_DOCUMENT = 32

Variables = Mapping[str, Any]


class Estimate(NamedTuple):
    """The values a selection would return, and its costliest path to a leaf."""

    total: int
    path: tuple[str, ...]
    path_count: int


EMPTY = Estimate(0, (), 0)


@dataclass(frozen=True)
class _Sizing:
    """How one operation's sizes are read: its variables' defaults and the fragments."""

    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    defaults: Mapping[str, Any]
    variables: Variables
    #: Each fragment is estimated once per type and page: a fragment spreading another twice,
    #: over and over, would otherwise take time doubling with every level.
    spread: dict[tuple[str, str, int | None], Estimate] = field(default_factory=dict)

    def size(self, field: GraphQLField, node: FieldNode) -> int | None:
        """The size argument of `node` (given, from a variable or defaulted), if it has one."""
        for name in SIZE_ARGUMENTS:
            argument = field.args.get(name)
            if argument is None:
                continue
            value: Any = argument.default_value
            for given in node.arguments or ():
                if given.name.value != name:
                    continue
                if isinstance(given.value, VariableNode):
                    variable = given.value.name.value
                    value = self.variables.get(variable, self.defaults.get(variable, value))
                elif isinstance(given.value, IntValueNode):
                    value = int(given.value.value)
            # A value of the wrong type fails variable coercion later, with its own message.
            return value if isinstance(value, int) and not isinstance(value, bool) else None
        return None

    def selection(
        self,
        parent: GraphQLObjectType | Any,
        selection_set: SelectionSetNode | None,
        page: int | None,
        seen: frozenset[str] = frozenset(),
    ) -> Estimate:
        if selection_set is None:
            return EMPTY
        own: list[Estimate] = []
        branches: dict[str, list[Estimate]] = {}
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                own.append(self.field(parent, selection, page, seen))
                continue
            if isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue  # validation reports unknown and cyclic fragments
                target: Any = self.schema.get_type(fragment.type_condition.name.value)
                memo = (name, getattr(target, "name", ""), page)
                estimate = self.spread.get(memo)
                if estimate is None:
                    estimate = self.spread[memo] = self.selection(
                        target, fragment.selection_set, page, seen | {name}
                    )
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                estimate = self.selection(target, selection.selection_set, page, seen)
            else:
                continue
            if target is parent:
                own.append(estimate)
            else:
                branches.setdefault(getattr(target, "name", ""), []).append(estimate)
        # An object is one of the types its fragments are on: only the costliest one counts.
        if branches:
            own.append(max((_sum(group) for group in branches.values()), key=lambda e: e.total))
        return _sum(own)

    def field(
        self, parent: Any, node: FieldNode, page: int | None, seen: frozenset[str]
    ) -> Estimate:
        key = node.alias.value if node.alias else node.name.value
        fields = getattr(parent, "fields", None)
        definition = fields.get(node.name.value) if fields is not None else None
        if definition is None:  # __typename, or a field validation reports
            return Estimate(1, (key,), 1)
        size = self.size(definition, node)
        count = 1
        inner_page = None
        if _is_list(definition.type):
            count = max(0, size if size is not None else page if page is not None else LIST_SIZE)
        else:
            inner_page = size  # a connection's `first` sizes the lists in it (`edges`, `nodes`)
        named = get_named_type(definition.type)
        child = self.selection(named, node.selection_set, inner_page, seen)
        if child.path:
            return Estimate(count * (1 + child.total), (key, *child.path), count * child.path_count)
        return Estimate(count, (key,), count)


def _is_list(type_: Any) -> bool:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


def _sum(estimates: list[Estimate]) -> Estimate:
    if not estimates:
        return EMPTY
    costliest = max(estimates, key=lambda e: e.path_count)
    return Estimate(sum(e.total for e in estimates), costliest.path, costliest.path_count)


def expanded_selections(document: DocumentNode) -> int:
    """Count the selections of `document` with every fragment spread written out in place.

    Validation rules that follow fragments (the depth and alias limits among them) walk this
    expanded tree: a few hundred tokens of fragments that spread each other twice make it
    astronomically large, so it is counted first, once per fragment. A spread that leads back
    into itself counts nothing here; validation reports the cycle.
    """
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    sizes: dict[str, int] = {}

    def size(selection_set: SelectionSetNode | None, open_: frozenset[str]) -> int:
        total = 0
        for selection in selection_set.selections if selection_set is not None else ():
            if isinstance(selection, FieldNode):
                total += 1 + size(selection.selection_set, open_)
            elif isinstance(selection, InlineFragmentNode):
                total += size(selection.selection_set, open_)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is None or name in open_:
                    continue
                if name not in sizes:
                    sizes[name] = size(fragment.selection_set, open_ | {name})
                total += sizes[name]
        return total

    return sum(
        size(d.selection_set, frozenset())
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    )


class _VariableUses(Visitor):
    """Collect the variables passed to size arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_argument(self, node: Any, *_args: Any) -> None:
        if node.name.value in SIZE_ARGUMENTS and isinstance(node.value, VariableNode):
            self.names.add(node.value.name.value)


class DocumentCost:
    """The cost check of one parsed, valid document against a budget."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, budget: int) -> None:
        self.schema = schema
        self.document = document
        self.budget = budget
        uses = _VariableUses()
        visit(document, uses)
        self.sizing_variables = tuple(sorted(uses.names))
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.operations = [
            d for d in document.definitions if isinstance(d, OperationDefinitionNode)
        ]
        self.verdicts: dict[tuple[object, ...], GraphQLError | None] = {}

    def always_within_budget(self) -> bool:
        """Whether every operation is within budget whatever its variables."""
        if self.sizing_variables:
            return False
        return all(
            self._estimate(operation, {}).total <= self.budget for operation in self.operations
        )

    def error(self, operation_name: str | None, variables: Variables | None) -> GraphQLError | None:
        """The error refusing this operation with these variables, or None when in budget."""
        values = variables or {}
        key = (operation_name, *(values.get(name) for name in self.sizing_variables))
        try:
            return self.verdicts[key]
        except KeyError:
            pass
        except TypeError:  # a list or object where a size goes: coercion refuses it later
            return self._judge(operation_name, values)
        if len(self.verdicts) >= VERDICTS_PER_DOCUMENT:
            self.verdicts.clear()
        verdict = self.verdicts[key] = self._judge(operation_name, values)
        return verdict

    def estimate(self, operation_name: str | None, variables: Variables | None) -> Estimate:
        """The estimate of the named operation (of the costliest one when unnamed)."""
        estimates = [
            self._estimate(operation, variables or {})
            for operation in self.operations
            if operation_name is None or (operation.name and operation.name.value == operation_name)
        ]
        return max(estimates, key=lambda e: e.total, default=EMPTY)

    def _estimate(self, operation: OperationDefinitionNode, variables: Variables) -> Estimate:
        root = self.schema.get_root_type(operation.operation)
        defaults = {
            d.variable.name.value: int(d.default_value.value)
            for d in operation.variable_definitions or ()
            if isinstance(d.default_value, IntValueNode)
        }
        sizing = _Sizing(self.schema, self.fragments, defaults, variables)
        return sizing.selection(root, operation.selection_set, None)

    def _judge(self, operation_name: str | None, variables: Variables) -> GraphQLError | None:
        estimate = self.estimate(operation_name, variables)
        if estimate.total <= self.budget:
            return None
        path = ".".join(estimate.path)
        return GraphQLError(
            f"This operation could return about {estimate.total:,} values, over the limit of "
            f"{self.budget:,}; the costliest path is {path} (about {estimate.path_count:,} "
            "values): ask for fewer items with `first` or `count`, or select fewer nested lists",
            extensions={
                "code": "QUERY_TOO_COSTLY",
                "cost": estimate.total,
                "limit": self.budget,
                "path": path,
            },
        )
