import { Arg, Authorized, Ctx, Int, Mutation, Resolver } from 'type-graphql';
import { Role } from '../../domain.js';
import { requirePrincipal, type GraphQLContext } from '../context.js';
import { presentPortalSession } from '../presenters/portal.js';
import { PortalSession } from '../types/portal.js';

@Resolver()
export class PortalResolver {
  @Authorized(Role.ADMIN)
  @Mutation(() => PortalSession, { description: "ADMIN: a console link for the caller's account and environment, without an API key" })
  async createPortalSession(
    @Ctx() ctx: GraphQLContext,
    @Arg('expiresInSeconds', () => Int, { defaultValue: 3600, nullable: true }) expiresInSeconds: number | null,
    @Arg('readOnly', () => Boolean, { defaultValue: false, nullable: true }) readOnly: boolean | null,
  ): Promise<PortalSession> {
    const link = await ctx.services.portal.createLink(
      requirePrincipal(ctx),
      { expiresInSeconds: expiresInSeconds ?? 3600, readOnly: readOnly ?? false },
      ctx.origin ?? 'http://localhost',
    );
    return presentPortalSession(link);
  }
}
