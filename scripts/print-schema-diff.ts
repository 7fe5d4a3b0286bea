// Prints the SQL that would bring the database at DATABASE_URL in line with
// the entities: the starting point of a new migration, to be reviewed by hand.
import { createDataSource } from '../src/db/data-source.js';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL is required');
const dataSource = createDataSource({ url });
await dataSource.initialize();
await dataSource.runMigrations();
const sql = await dataSource.driver.createSchemaBuilder().log();
for (const q of sql.upQueries) console.log(`UP   ${q.query}`);
for (const q of sql.downQueries.reverse()) console.log(`DOWN ${q.query}`);
await dataSource.destroy();
