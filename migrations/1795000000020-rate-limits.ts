import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The request counters of the API rate limits, shared by every API process.
 * The layout is the one rate-limiter-flexible's PostgreSQL store reads and
 * writes; it has no entity, as only that library touches it.
 */
export class RateLimits1795000000020 implements MigrationInterface {
  name = 'RateLimits1795000000020';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "rate_limits" ("key" character varying(255) NOT NULL, "points" integer NOT NULL DEFAULT 0, "expire" bigint, CONSTRAINT "PK_rate_limits" PRIMARY KEY ("key"))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "rate_limits"`);
  }
}
