import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** Facts about the installation that must outlive any one row of another table, e.g. that an operator token was minted. */
@Entity({ name: 'hookline_settings' })
export class SettingEntity {
  @PrimaryColumn('text')
  name: string;

  @Column('text')
  value: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
