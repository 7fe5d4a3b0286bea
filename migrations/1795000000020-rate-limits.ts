import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The request counters of the API rate limits, shared by every API process.
 * The layout is the one rate-limiter-flexible's PostgreSQL store reads and
 * writes; it has no entity, as only that library touches it. The table is
 * UNLOGGED: every API request upserts a counter, and a logged table would cost
 * a WAL flush per request for data that needs no durability. A crash of the
 * database empties it, which only starts the current windows over (a replica
 * does not get it either, and needs none).
 */
export class RateLimits1795000000020 implements MigrationInterface {
  name = 'RateLimits1795000000020';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE UNLOGGED TABLE "rate_limits" ("key" character varying(255) NOT NULL, "points" integer NOT NULL DEFAULT 0, "expire" bigint, CONSTRAINT "PK_rate_limits" PRIMARY KEY ("key"))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "rate_limits"`);
  }
}
