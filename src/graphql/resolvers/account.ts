import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { Role } from '../../domain.js';
import { requirePrincipal, type GraphQLContext } from '../context.js';
import { presentApiKey, presentCreatedAccount, presentCreatedApiKey, presentViewer } from '../presenters/account.js';
import { ApiKey, CreatedAccount, CreatedApiKey, Viewer } from '../types/account.js';
import { Environment } from '../types/enums.js';

@Resolver()
export class AccountResolver {
  @Authorized()
  @Query(() => Viewer)
  async viewer(@Ctx() ctx: GraphQLContext): Promise<Viewer> {
    const principal = requirePrincipal(ctx);
    const [account, key] = await Promise.all([
      principal.accountId ? ctx.services.accounts.getAccount(principal.accountId) : null,
      ctx.services.accounts.getOwnKey(principal),
    ]);
    return presentViewer(principal, account, key);
  }

  @Authorized(Role.ADMIN, Role.OPERATOR)
  @Query(() => [ApiKey], {
    description: 'The keys the caller manages: a PRODUCTION ADMIN those of both environments, a STAGING ADMIN only STAGING keys',
  })
  async apiKeys(
    @Ctx() ctx: GraphQLContext,
    @Arg('environment', () => Environment, { nullable: true, description: 'Only this environment, which the caller must manage' })
    environment?: Environment | null,
  ): Promise<ApiKey[]> {
    const keys = await ctx.services.accounts.listApiKeys(requirePrincipal(ctx), environment);
    return keys.map((k) => presentApiKey(k));
  }

  @Authorized(Role.OPERATOR)
  @Mutation(() => CreatedAccount, { description: 'OPERATOR only' })
  async createAccount(@Ctx() ctx: GraphQLContext, @Arg('name') name: string): Promise<CreatedAccount> {
    return presentCreatedAccount(await ctx.services.accounts.createAccount(requirePrincipal(ctx), name));
  }

  @Authorized(Role.ADMIN, Role.OPERATOR)
  @Mutation(() => CreatedApiKey, { description: "Of the caller's environment unless another it manages is given" })
  async createApiKey(
    @Ctx() ctx: GraphQLContext,
    @Arg('name') name: string,
    @Arg('role', () => Role) role: Role,
    @Arg('environment', () => Environment, { nullable: true }) environment?: Environment | null,
    @Arg('rateLimitPerSecond', () => Int, { nullable: true, description: "This key's own request budget instead of the installation's default" })
    rateLimitPerSecond?: number | null,
  ): Promise<CreatedApiKey> {
    return presentCreatedApiKey(await ctx.services.accounts.createApiKey(requirePrincipal(ctx), { name, role, environment, rateLimitPerSecond }));
  }

  @Authorized(Role.ADMIN, Role.OPERATOR)
  @Mutation(() => ApiKey, { description: "ADMIN: a key's own request budget; null returns it to the installation's default" })
  async setApiKeyRateLimit(
    @Ctx() ctx: GraphQLContext,
    @Arg('id', () => ID) id: string,
    @Arg('rateLimitPerSecond', () => Int, { nullable: true }) rateLimitPerSecond: number | null,
  ): Promise<ApiKey> {
    return presentApiKey(await ctx.services.accounts.setApiKeyRateLimit(requirePrincipal(ctx), id, rateLimitPerSecond ?? null));
  }

  @Authorized(Role.ADMIN, Role.OPERATOR)
  @Mutation(() => ApiKey)
  async revokeApiKey(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<ApiKey> {
    return presentApiKey(await ctx.services.accounts.revokeApiKey(requirePrincipal(ctx), id));
  }
}
