import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Endpoint health (consecutive failures, held while failing) and the per-endpoint cap on deliveries in flight. */
export class EndpointHealth1795000000010 implements MigrationInterface {
  name = 'EndpointHealth1795000000010';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" ADD "max_in_flight" integer`);
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" ADD "health_state" text NOT NULL DEFAULT 'HEALTHY'`);
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" ADD "health_since" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" ADD "consecutive_failures" integer NOT NULL DEFAULT '0'`);
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" ADD "next_probe_at" TIMESTAMP WITH TIME ZONE`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" DROP COLUMN "next_probe_at"`);
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" DROP COLUMN "consecutive_failures"`);
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" DROP COLUMN "health_since"`);
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" DROP COLUMN "health_state"`);
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" DROP COLUMN "max_in_flight"`);
  }
}
