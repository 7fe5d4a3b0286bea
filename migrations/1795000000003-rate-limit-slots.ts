import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The send slot that enforces a subscription's rateLimitPerSecond across all workers. */
export class RateLimitSlots1795000000003 implements MigrationInterface {
  name = 'RateLimitSlots1795000000003';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" ADD "rate_next_slot_at" TIMESTAMP WITH TIME ZONE`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" DROP COLUMN "rate_next_slot_at"`);
  }
}
