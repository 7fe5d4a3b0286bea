import { Arg, Args, Authorized, Ctx, FieldResolver, Query, Resolver, Root } from 'type-graphql';
import { Role } from '../../domain.js';
import { scopeOf, type GraphQLContext } from '../context.js';
import { loadersOf } from '../loaders.js';
import { presentApiKey } from '../presenters/account.js';
import { presentAuditEntry, presentAuditVerification } from '../presenters/audit.js';
import { ApiKey } from '../types/account.js';
import { AuditActor, AuditEntryConnection, AuditFilter, AuditVerification } from '../types/audit.js';
import { PageArgs } from '../types/pagination.js';

@Resolver()
export class AuditResolver {
  @Authorized(Role.ADMIN, Role.VIEWER)
  @Query(() => AuditEntryConnection, { description: 'ADMIN and VIEWER: every change to the account in this environment, newest first' })
  async auditLog(
    @Ctx() ctx: GraphQLContext,
    @Arg('filter', () => AuditFilter, { nullable: true }) filter: AuditFilter | null,
    @Args() page: PageArgs,
  ): Promise<AuditEntryConnection> {
    const found = await ctx.services.audit.list(scopeOf(ctx), filter ?? {}, PageArgs.size(page), page.after);
    return { nodes: found.nodes.map(presentAuditEntry), pageInfo: { hasNextPage: found.hasNextPage, endCursor: found.endCursor } };
  }

  @Authorized(Role.ADMIN, Role.VIEWER)
  @Query(() => AuditVerification)
  async verifyAuditLog(@Ctx() ctx: GraphQLContext): Promise<AuditVerification> {
    return presentAuditVerification(await ctx.services.audit.verify(scopeOf(ctx)));
  }
}

@Resolver(() => AuditActor)
export class AuditActorResolver {
  @FieldResolver(() => ApiKey, { nullable: true, description: 'The key that acted, for API_KEY and CONSOLE_SESSION' })
  async apiKey(@Ctx() ctx: GraphQLContext, @Root() actor: AuditActor): Promise<ApiKey | null> {
    if (!actor.apiKeyId) return null;
    const key = await loadersOf(ctx).auditActorKey.load(actor.apiKeyId);
    return key && presentApiKey(key);
  }
}
