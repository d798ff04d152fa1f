import { Field, ObjectType, registerEnumType } from 'type-graphql';
import { FailoverType } from '../entities/enums.js';
import { CheckKind } from '../failover/readiness/check.js';

registerEnumType(CheckKind, { name: 'ReadinessCheckKind', description: 'DATABASE checks read the appliance database; CLOUD checks ask CloudStack.' });

/** One readiness check's verdict. */
@ObjectType({ simpleResolvers: true })
export class ReadinessCheck {
  @Field(() => String)
  name!: string;

  @Field(() => CheckKind)
  kind!: CheckKind;

  @Field(() => Boolean)
  passed!: boolean;

  @Field(() => String, { description: 'What was found, in words a person understands.' })
  message!: string;

  @Field(() => String, { nullable: true, description: 'The failover job that blocks the VM, when that is the reason.' })
  blockingJobId?: string | null;
}

/** Whether a VM can fail over now, and every check behind the answer. */
@ObjectType({ simpleResolvers: true })
export class VmReadiness {
  @Field(() => String)
  vmId!: string;

  @Field(() => FailoverType)
  type!: FailoverType;

  @Field(() => Boolean)
  ready!: boolean;

  @Field(() => [ReadinessCheck])
  checks!: ReadinessCheck[];
}
