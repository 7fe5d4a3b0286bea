import { ArgsType, Field, Int, ObjectType, type ClassType } from 'type-graphql';
import { checkPageSize, type Page } from '../../pagination.js';

export const DEFAULT_PAGE_SIZE = 50;

@ObjectType()
export class PageInfo {
  @Field()
  hasNextPage: boolean;

  @Field(() => String, { nullable: true })
  endCursor: string | null;
}

/** The `first` and `after` arguments of every paginated field. */
@ArgsType()
export class PageArgs {
  @Field(() => Int, { defaultValue: DEFAULT_PAGE_SIZE, nullable: true })
  first: number | null;

  @Field(() => String, { nullable: true })
  after: string | null;

  /** The checked page size; `first: null` means the default. */
  static size(args: PageArgs): number {
    return checkPageSize(args.first ?? DEFAULT_PAGE_SIZE);
  }
}

/** A service page as the nodes, pageInfo and (counted when selected) totalCount of a connection type. */
export function toConnection<E, N>(
  page: Page<E>,
  map: (entity: E) => N,
): { nodes: N[]; pageInfo: PageInfo; countTotal: () => Promise<number>; totalCount(): Promise<number> } {
  return {
    nodes: page.nodes.map(map),
    countTotal: page.totalCount,
    totalCount() {
      return this.countTotal();
    },
    pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
  };
}

/** The fields every connection type has, over nodes of one type (type-graphql's generic-type pattern). */
export function Connection<TNode extends object>(node: ClassType<TNode>) {
  @ObjectType()
  abstract class ConnectionType {
    @Field(() => [node])
    nodes: TNode[];

    @Field(() => PageInfo)
    pageInfo: PageInfo;

    countTotal: () => Promise<number>;

    @Field(() => Int)
    totalCount(): Promise<number> {
      return this.countTotal();
    }
  }
  return ConnectionType;
}
