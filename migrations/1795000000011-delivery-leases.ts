import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The deliveries table becomes the dispatch queue: a worker claims due
 * deliveries under a lease (owner, token, expiry) instead of taking a queue
 * job per delivery, and the lease token fences its result. Due rows are
 * found through a partial index; leased rows (for the per-endpoint cap
 * on deliveries in flight) through another; old events by creation time,
 * for the retention purge.
 */
export class DeliveryLeases1795000000011 implements MigrationInterface {
  name = 'DeliveryLeases1795000000011';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "deliveries" DROP COLUMN "current_job_id"`);
    await queryRunner.query(`ALTER TABLE "deliveries" ADD "lease_owner" uuid`);
    await queryRunner.query(`ALTER TABLE "deliveries" ADD "lease_token" uuid`);
    await queryRunner.query(`ALTER TABLE "deliveries" ADD "lease_expires_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "deliveries" ADD "slot_reserved" boolean NOT NULL DEFAULT false`);
    await queryRunner.query(`CREATE INDEX "deliveries_due_idx" ON "deliveries" ("subscription_id", "next_attempt_at") WHERE status IN ('PENDING', 'RETRYING')`);
    await queryRunner.query(`CREATE INDEX "deliveries_leased_idx" ON "deliveries" ("subscription_id") WHERE lease_token IS NOT NULL`);
    await queryRunner.query(`CREATE INDEX "events_created_at_idx" ON "events" ("created_at")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "events_created_at_idx"`);
    await queryRunner.query(`DROP INDEX "deliveries_leased_idx"`);
    await queryRunner.query(`DROP INDEX "deliveries_due_idx"`);
    await queryRunner.query(`ALTER TABLE "deliveries" DROP COLUMN "slot_reserved"`);
    await queryRunner.query(`ALTER TABLE "deliveries" DROP COLUMN "lease_expires_at"`);
    await queryRunner.query(`ALTER TABLE "deliveries" DROP COLUMN "lease_token"`);
    await queryRunner.query(`ALTER TABLE "deliveries" DROP COLUMN "lease_owner"`);
    await queryRunner.query(`ALTER TABLE "deliveries" ADD "current_job_id" uuid`);
  }
}
