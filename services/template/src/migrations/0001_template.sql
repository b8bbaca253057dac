-- Read models of the template service. Single resources are read from the event log (always
-- current); these tables serve lists, filters and pagination.

CREATE TABLE projects (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    name text NOT NULL,
    description text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX projects_by_tenant ON projects (tenant_id, lower(name), id);

CREATE TABLE model_types (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    description text NOT NULL,
    goal text NOT NULL,
    configuration jsonb NOT NULL,
    templates integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE base_models (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    architecture text NOT NULL,
    description text NOT NULL,
    weights jsonb,
    templates integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE datasets (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    project_id uuid NOT NULL,
    name text NOT NULL,
    description text NOT NULL,
    latest_version integer NOT NULL DEFAULT 0,
    latest_status text,
    templates integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX datasets_by_project ON datasets (tenant_id, project_id, lower(name), id);

CREATE TABLE dataset_versions (
    dataset_id uuid NOT NULL,
    version integer NOT NULL,
    object text NOT NULL,
    sha256 text NOT NULL,
    size bigint NOT NULL,
    file_name text,
    status text NOT NULL,
    reason jsonb,
    statistics jsonb,
    uploaded_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (dataset_id, version)
);

CREATE TABLE templates (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    project_id uuid NOT NULL,
    name text NOT NULL,
    version integer NOT NULL,
    model_type_id uuid NOT NULL,
    base_model_id uuid NOT NULL,
    description text NOT NULL,
    augmentation text NOT NULL,
    parameters jsonb NOT NULL,
    dataset_id uuid,
    dataset_version integer,
    processes integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX templates_by_project ON templates (tenant_id, project_id, lower(name), id);
CREATE INDEX templates_by_tenant ON templates (tenant_id, lower(name), id);
CREATE INDEX templates_by_project_only ON templates (project_id, lower(name), id);

CREATE TABLE template_versions (
    template_id uuid NOT NULL,
    version integer NOT NULL,
    name text NOT NULL,
    spec jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (template_id, version)
);

CREATE TABLE template_pins (
    template_id uuid NOT NULL,
    process_id uuid NOT NULL,
    version integer NOT NULL,
    PRIMARY KEY (template_id, process_id)
);
