import { GraphQLError, Kind, type ASTVisitor, type SelectionNode, type ValidationContext } from 'graphql';

/** The most top-level fields (aliases included) one operation may ask for. */
export const MAX_ROOT_FIELDS = 10;

/**
 * A validation rule bounding an operation's breadth: each root field is a batched but real
 * database read (a page may be 500 VMs), so `{ a: virtualMachines … b: virtualMachines … }`
 * repeated a thousand times must not be one request. Depth is bounded by the schema itself,
 * which has no cycles.
 */
export function rootFieldLimit(max = MAX_ROOT_FIELDS) {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(node) {
      let count = 0;
      const visited = new Set<string>();
      const countSelections = (selections: readonly SelectionNode[]) => {
        for (const selection of selections) {
          if (selection.kind === Kind.FIELD) count++;
          else if (selection.kind === Kind.INLINE_FRAGMENT) countSelections(selection.selectionSet.selections);
          else {
            const name = selection.name.value;
            const fragment = context.getFragment(name);
            if (fragment && !visited.has(name)) {
              visited.add(name);
              countSelections(fragment.selectionSet.selections);
            }
          }
        }
      };
      countSelections(node.selectionSet.selections);
      if (count > max) {
        context.reportError(new GraphQLError(`An operation may ask for at most ${max} top-level fields; this one asks for ${count}`, { nodes: [node] }));
      }
    },
  });
}
