/**
 * The JSON Schema of `platform.yaml` version 1 (DESIGN §3). Rendered to
 * `schemas/platform.schema.json` for editors and to `types.gen.ts` by `npm run generate`.
 *
 * Every object is closed (`additionalProperties: false`) so a typo such as `replica:` is an
 * error with a suggestion, not a silently ignored field.
 *
 * @module
 */
import { obj, type Schema, str } from '../api/index.ts';

export const MANIFEST_SCHEMA_ID = 'https://grove.dev/schemas/platform.schema.json';

const NAME = '^[a-z]([-a-z0-9]*[a-z0-9])?$';

function closed(description: string, props: Record<string, Schema>, extra: Partial<Schema> = {}): Schema {
  return obj(description, props, { additionalProperties: false, ...extra });
}

function integer(description: string, minimum: number, maximum: number): Schema {
  return { type: 'integer', description, minimum, maximum };
}

function named(description: string, values: Schema, maxProperties = 32): Schema {
  return {
    type: 'object',
    description,
    additionalProperties: values,
    propertyNames: { pattern: NAME, maxLength: 40, 'x-error': 'a lowercase name (letters, digits and dashes, starting with a letter)' },
    maxProperties,
  };
}

function pattern(description: string, regex: string, meaning: string, extra: Partial<Schema> = {}): Schema {
  return str(description, { pattern: regex, 'x-error': meaning, ...extra });
}

const quantity = (description: string, meaning: string): Schema =>
  pattern(description, '^([0-9]+(\\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$', meaning, { maxLength: 32 });

const duration = (description: string): Schema => pattern(description, '^[0-9]{1,6}(s|m|h|d|w)$', 'a duration such as 30m, 72h or 14d', { maxLength: 8 });

const command: Schema = {
  type: 'array',
  description: 'A command as a list of arguments, run without a shell.',
  items: str('An argument.', { maxLength: 4096 }),
  minItems: 1,
  maxItems: 64,
};

const cronSchedule = pattern(
  'A cron schedule (five fields) or a macro such as @daily.',
  '^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\\S+\\s+){4}\\S+)$',
  'a cron schedule of five fields, such as "*/15 * * * *", or @hourly/@daily/@weekly/@monthly',
  { maxLength: 100 },
);

const resources = closed(
  'CPU and memory each instance requests; the limit is the same amount.',
  {
    'cpu?': quantity('CPU, e.g. 250m or 1.', 'a CPU quantity such as 250m or 1'),
    'memory?': quantity('Memory, e.g. 256Mi or 1Gi.', 'a memory quantity such as 256Mi or 1Gi'),
  },
  { title: 'Resources' },
);

const applicationProps = {
  image: str('Container image. May use ${GIT_COMMIT}, ${GIT_BRANCH} and ${ENVIRONMENT}.', { minLength: 1, maxLength: 512 }),
  'port?': integer('Port the application listens on; needed for routes and health checks.', 1, 65535),
  'replicas?': integer('Instances to run.', 0, 50),
  'env?': {
    type: 'object',
    description: 'Environment variables. Values may use ${GIT_COMMIT}, ${GIT_BRANCH} and ${ENVIRONMENT}.',
    additionalProperties: str('A value.', { maxLength: 32768 }),
    propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$', maxLength: 128, 'x-error': 'an environment variable name (letters, digits and _)' } as Schema,
    maxProperties: 256,
  } satisfies Schema,
  'relationships?': {
    type: 'object',
    description: 'Services this application uses: the key becomes the variable prefix (database → DATABASE_URL), the value names a service.',
    additionalProperties: pattern('A service name.', NAME, 'the name of a service declared under services'),
    propertyNames: { pattern: NAME, maxLength: 40, 'x-error': 'a lowercase name (letters, digits and dashes, starting with a letter)' } as Schema,
    maxProperties: 32,
  } satisfies Schema,
  'mounts?': named(
    'Persistent writable directories.',
    closed(
      'A persistent volume mounted into the application.',
      {
        path: pattern('Absolute mount path.', '^/[^\\x00]*$', 'an absolute path such as /app/uploads', { maxLength: 1024 }),
        'size?': quantity('Volume size, default 1Gi.', 'a size such as 1Gi or 500Mi'),
      },
      { title: 'Mount' },
    ),
  ),
  'resources?': resources,
  'health?': closed(
    'HTTP health check used for readiness and liveness.',
    { path: pattern('Path to GET, e.g. /healthz.', '^/', 'a path starting with /', { maxLength: 1024 }), 'port?': integer('Port, default the application port.', 1, 65535) },
    { title: 'HealthCheck' },
  ),
  'hooks?': closed(
    'Commands run at points of the environment\'s life.',
    {
      'deploy?': { ...command, description: 'Run once per revision after the workloads roll out (migrations).' },
      'sanitize?': { ...command, description: 'Run after data is cloned from the parent, before the environment is Ready (non-production only).' },
    },
    { title: 'Hooks' },
  ),
  'crons?': named(
    'Scheduled commands.',
    closed('A scheduled command.', { schedule: cronSchedule, command }, { title: 'Cron' }),
  ),
};

const application = closed('An application built from the repository and run as a Deployment.', applicationProps, { title: 'Application' });

const service = closed(
  'A managed service from Grove\'s catalog, run as a StatefulSet with its own credentials.',
  {
    type: pattern('Service type and version.', '^(postgresql|mariadb|mysql|redis):[0-9]+(\\.[0-9]+)*$', 'one of postgresql:<version>, mariadb:<version>, mysql:<version>, redis:<version> (e.g. postgresql:16)', {
      maxLength: 40,
    }),
    'size?': quantity('Disk size, default 1Gi.', 'a size such as 2Gi'),
    'clone?': { type: 'string', enum: ['full', 'sanitized', 'empty'], description: 'How a new environment gets this service\'s data from its parent.' },
    'resources?': resources,
  },
  { title: 'Service' },
);

/** Overrides repeat the base shape with every field optional. */
function optionalAll(schema: Schema, title: string): Schema {
  const { required: _required, ...rest } = schema;
  return { ...rest, title };
}

const override = closed(
  'Changes applied for one environment type; objects merge, other values replace.',
  {
    'applications?': named('Application overrides by name.', optionalAll(application, 'ApplicationOverride')),
    'services?': named('Service overrides by name.', optionalAll(service, 'ServiceOverride')),
  },
  { title: 'EnvironmentOverride' },
);

export const MANIFEST_SCHEMA: Schema & { $schema: string; $id: string } = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: MANIFEST_SCHEMA_ID,
  ...closed(
    'Grove platform manifest: what each branch\'s environment runs.',
    {
      version: { type: 'integer', const: 1, description: 'Manifest format version; must be 1.' },
      'applications?': named('Applications by name.', application),
      'services?': named('Services by name.', service),
      'routes?': named(
        'HTTP routes into the environment; the host comes from the Project\'s domain template.',
        closed('A route.', { upstream: pattern('The application that serves the route.', NAME, 'the name of an application'), 'path?': pattern('Path prefix, default /.', '^/', 'a path starting with /', { maxLength: 1024 }) }, { title: 'Route' }),
      ),
      'environments?': closed(
        'Overrides per environment type.',
        { 'production?': override, 'staging?': override, 'development?': override },
        { title: 'Overrides' },
      ),
      'lifecycle?': closed('When environments expire and sleep.', { 'ttl?': duration('Delete after this long without activity.'), 'sleepAfter?': duration('Scale to zero after this long without activity.') }, { title: 'Lifecycle' }),
      'backups?': closed(
        'Scheduled backups.',
        {
          schedule: cronSchedule,
          'retain?': duration('How long each backup is kept.'),
          'types?': {
            type: 'array',
            description: 'Environment types that are backed up; default production.',
            items: { type: 'string', enum: ['production', 'staging', 'development'] },
            maxItems: 3,
          },
        },
        { title: 'Backups' },
      ),
    },
    { title: 'PlatformManifest' },
  ),
};
