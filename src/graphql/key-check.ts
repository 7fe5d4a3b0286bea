import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, type OperationDefinitionNode } from 'graphql';
import { AppError } from '../errors.js';
import type { GraphQLContext } from './context.js';

/**
 * The mutations whose transaction checks the caller's key in the database
 * itself (in the statement that stores the events), so that they may be
 * authenticated from the in-process key cache and still refuse a key revoked
 * a moment ago in another process.
 */
export const PUBLISHING_MUTATIONS: ReadonlySet<string> = new Set([
  'publishEvent',
  'publishEvents',
  'recordInvoicePaid',
  'openDispute',
  'recordPromiseToPay',
]);

/** A mutation that selects only publishing mutations (and perhaps __typename) at its root. */
export function isPublishingOperation(operation: OperationDefinitionNode): boolean {
  return (
    operation.operation === 'mutation' &&
    operation.selectionSet.selections.every(
      (selection) => selection.kind === Kind.FIELD && (PUBLISHING_MUTATIONS.has(selection.name.value) || selection.name.value === '__typename'),
    )
  );
}

/**
 * Once the operation is known, a principal taken from the key cache is read
 * again from the database unless the operation publishes: the cache learns of
 * a revocation in another process only after its commit, and every operation
 * but publishing must refuse a revoked key at once.
 */
export function keyCheckPlugin(): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, contextValue }) {
          const recheck = contextValue.recheckKey;
          if (!recheck || (operation && isPublishingOperation(operation))) return;
          contextValue.recheckKey = null;
          try {
            contextValue.principal = await recheck();
          } catch (error) {
            if (!(error instanceof AppError)) throw error;
            contextValue.principal = null;
            contextValue.authError = error;
          }
        },
      };
    },
  };
}
