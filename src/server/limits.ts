import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { GraphQLError, Kind, type ASTVisitor, type FragmentDefinitionNode, type SelectionNode, type ValidationContext, type ValidationRule } from 'graphql';

/**
 * What one operation may cost, the same on both transports (HTTP: Apollo's validation; WebSocket:
 * graphql-ws's), from graphql-armor where it has the rule. Fit to the real operations: the
 * dashboard page of README (`virtualMachines(first: 100)` with spec, disks, active job and both
 * readiness evaluations) costs about 15,500 and 78,000 at `first: 500`; a job with its ledger
 * about 40; an event subscription with its job about 30. The alias-and-fragment blow-up that
 * returned 157 MB from 1.3 KB costs millions.
 */
export const LIMITS = {
  /** graphql-armor's cost: objects 2, scalars 1, ×1.5 per level, × a literal `first` (variables: see the argument guard). */
  maxCost: 100_000,
  /** Selection depth (the dashboard is 6 deep). */
  maxDepth: 10,
  /** Aliases in one operation (the dashboard uses 2). */
  maxAliases: 15,
  /** Directives in one operation. */
  maxDirectives: 10,
  /** Tokens the parser reads before it gives up (graphql-js's own limit). */
  maxTokens: 5_000,
  /** Characters of one name: alias, field, argument, type, fragment, variable, directive, operation (the schema's longest is under 30). */
  maxNameLength: 100,
  /** Bytes of one answer (a 500-VM dashboard page is well under 2 MB). */
  maxResponseBytes: 10 * 1024 * 1024,
} as const;

/** graphql-armor's rules report through the validation context (never throw out of validation). */
const armor = {
  propagateOnRejection: false,
  exposeLimits: true,
  onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)],
};

/** The cost rule alone (the argument guard runs it again with the variables' values in place). */
export const costRule = (): ValidationRule => costLimitRule({ ...armor, maxCost: LIMITS.maxCost, flattenFragments: true }) as unknown as ValidationRule;

/** graphql-armor's depth, alias, directive and cost rules with {@link LIMITS}, and the name length. */
export function armorRules(): ValidationRule[] {
  return [
    maxDepthRule({ ...armor, n: LIMITS.maxDepth, flattenFragments: true }),
    maxAliasesRule({ ...armor, n: LIMITS.maxAliases }),
    maxDirectivesRule({ ...armor, n: LIMITS.maxDirectives }),
    costRule(),
    nameLengthLimit(),
  ] as unknown as ValidationRule[];
}

/**
 * A validation rule bounding every name of a document: the token limit counts names, not their
 * length, and an alias comes back as a key of the answer (a 500 KB alias, a 500 KB answer). The
 * refusal says how long, never the name.
 */
export function nameLengthLimit(max: number = LIMITS.maxNameLength): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    let reported = false;
    return {
      Name(node) {
        if (reported || node.value.length <= max) return;
        reported = true;
        context.reportError(new GraphQLError(`A name may be at most ${max} characters; one here has ${node.value.length}`, { nodes: [node] }));
      },
    };
  };
}

/** The most top-level fields (aliases included) one operation may ask for. */
export const MAX_ROOT_FIELDS = 10;

/** The names of the fields a selection set asks for at its own level, through fragments (each spread once), aliases counted. */
export function rootFieldNames(selections: readonly SelectionNode[], fragmentOf: (name: string) => FragmentDefinitionNode | null | undefined): string[] {
  const names: string[] = [];
  const visited = new Set<string>();
  const walk = (list: readonly SelectionNode[]) => {
    for (const selection of list) {
      if (selection.kind === Kind.FIELD) names.push(selection.name.value);
      else if (selection.kind === Kind.INLINE_FRAGMENT) walk(selection.selectionSet.selections);
      else if (!visited.has(selection.name.value)) {
        visited.add(selection.name.value);
        const fragment = fragmentOf(selection.name.value);
        if (fragment) walk(fragment.selectionSet.selections);
      }
    }
  };
  walk(selections);
  return names;
}

/**
 * A validation rule bounding an operation's breadth: each root field is a batched but real
 * database read (a page may be 500 VMs), so `{ a: virtualMachines … b: virtualMachines … }`
 * repeated a thousand times must not be one request. Depth is bounded by the schema itself,
 * which has no cycles.
 */
export function rootFieldLimit(max = MAX_ROOT_FIELDS) {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(node) {
      const count = rootFieldNames(node.selectionSet.selections, (name) => context.getFragment(name)).length;
      if (count > max) {
        context.reportError(new GraphQLError(`An operation may ask for at most ${max} top-level fields; this one asks for ${count}`, { nodes: [node] }));
      }
    },
  });
}
