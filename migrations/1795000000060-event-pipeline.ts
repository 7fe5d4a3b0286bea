import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Ordering per key and the event pipeline through pg-boss. Events and
 * deliveries get an ordering key and a sequence (per account, environment
 * and key for events; per subscription and key, without gaps, for
 * deliveries), with the counters that hand them out. A delivery that waits
 * behind the previous one of its key is left out of the due index, so that
 * a long queue behind one key costs a claim nothing. A redelivery asked for
 * while an attempt is in flight is a flag, not a cleared lease.
 */
export class EventPipeline1795000000060 implements MigrationInterface {
  name = 'EventPipeline1795000000060';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "ordering_keys" ("account_id" uuid NOT NULL, "environment" text NOT NULL, "ordering_key" text NOT NULL, "last_sequence" integer NOT NULL, "fanned_out_through" integer NOT NULL DEFAULT '0', CONSTRAINT "PK_51eac0d8075a1fe0dee43d4130c" PRIMARY KEY ("account_id", "environment", "ordering_key"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "delivery_sequences" ("subscription_id" uuid NOT NULL, "ordering_key" text NOT NULL, "last_sequence" integer NOT NULL, CONSTRAINT "PK_1144c05eb3bb1ae76521ce601ab" PRIMARY KEY ("subscription_id", "ordering_key"))`,
    );
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" ADD "ordering" text NOT NULL DEFAULT 'PER_KEY'`);
    await queryRunner.query(`ALTER TABLE "events" ADD "ordering_key" text`);
    await queryRunner.query(`ALTER TABLE "events" ADD "sequence" integer`);
    await queryRunner.query(`ALTER TABLE "deliveries" ADD "ordering_key" text`);
    await queryRunner.query(`ALTER TABLE "deliveries" ADD "sequence" integer`);
    await queryRunner.query(`ALTER TABLE "deliveries" ADD "order_wait" boolean NOT NULL DEFAULT false`);
    await queryRunner.query(`ALTER TABLE "deliveries" ADD "order_released" boolean NOT NULL DEFAULT false`);
    await queryRunner.query(`ALTER TABLE "deliveries" ADD "redeliver_requested" boolean NOT NULL DEFAULT false`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "events_ordering_key" ON "events" ("account_id", "environment", "ordering_key", "sequence") WHERE ordering_key IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "deliveries_ordering_key" ON "deliveries" ("subscription_id", "ordering_key", "sequence") WHERE ordering_key IS NOT NULL`,
    );
    await queryRunner.query(`DROP INDEX "deliveries_due_idx"`);
    await queryRunner.query(
      `CREATE INDEX "deliveries_due_idx" ON "deliveries" ("subscription_id", "next_attempt_at") WHERE status IN ('PENDING', 'RETRYING') AND NOT order_wait`,
    );
    // The deliveries waiting behind their key, found when the one before them settles; a small index of those rows alone.
    await queryRunner.query(`CREATE INDEX "deliveries_waiting_idx" ON "deliveries" ("subscription_id", "ordering_key", "sequence") WHERE order_wait`);
    await queryRunner.query(
      `ALTER TABLE "ordering_keys" ADD CONSTRAINT "FK_2e73dcf1ea62ed7544edc153c4a" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "delivery_sequences" ADD CONSTRAINT "FK_2a89f6fe45a2270d0554b4a799a" FOREIGN KEY ("subscription_id") REFERENCES "webhook_subscriptions"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "delivery_sequences" DROP CONSTRAINT "FK_2a89f6fe45a2270d0554b4a799a"`);
    await queryRunner.query(`ALTER TABLE "ordering_keys" DROP CONSTRAINT "FK_2e73dcf1ea62ed7544edc153c4a"`);
    await queryRunner.query(`DROP INDEX "deliveries_due_idx"`);
    await queryRunner.query(`CREATE INDEX "deliveries_due_idx" ON "deliveries" ("subscription_id", "next_attempt_at") WHERE status IN ('PENDING', 'RETRYING')`);
    await queryRunner.query(`DROP INDEX "deliveries_waiting_idx"`);
    await queryRunner.query(`DROP INDEX "deliveries_ordering_key"`);
    await queryRunner.query(`DROP INDEX "events_ordering_key"`);
    await queryRunner.query(`ALTER TABLE "deliveries" DROP COLUMN "redeliver_requested"`);
    await queryRunner.query(`ALTER TABLE "deliveries" DROP COLUMN "order_released"`);
    await queryRunner.query(`ALTER TABLE "deliveries" DROP COLUMN "order_wait"`);
    await queryRunner.query(`ALTER TABLE "deliveries" DROP COLUMN "sequence"`);
    await queryRunner.query(`ALTER TABLE "deliveries" DROP COLUMN "ordering_key"`);
    await queryRunner.query(`ALTER TABLE "events" DROP COLUMN "sequence"`);
    await queryRunner.query(`ALTER TABLE "events" DROP COLUMN "ordering_key"`);
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" DROP COLUMN "ordering"`);
    await queryRunner.query(`DROP TABLE "delivery_sequences"`);
    await queryRunner.query(`DROP TABLE "ordering_keys"`);
  }
}
