import type { MigrationInterface, QueryRunner } from 'typeorm';

// PULL subscriptions: no endpoint; the consumer leases due deliveries with
// pullDeliveries and acknowledges them. Every existing subscription is PUSH.
export class PullSubscriptions1795000000090 implements MigrationInterface {
  name = 'PullSubscriptions1795000000090';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" ADD "kind" text NOT NULL DEFAULT 'PUSH'`);
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" ADD "last_pulled_at" timestamptz`);
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" ADD "expire_after_idle_seconds" integer`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" DROP COLUMN "expire_after_idle_seconds"`);
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" DROP COLUMN "last_pulled_at"`);
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" DROP COLUMN "kind"`);
  }
}
