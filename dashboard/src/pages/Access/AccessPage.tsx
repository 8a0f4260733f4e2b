/** Access (admins): webhook API keys, users and their roles, and who did what. */
import {
  Alert,
  Box,
  Button,
  Grid,
  MenuItem,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  TextField,
  Typography,
} from "@mui/material";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";

import { api, unwrap, type Schemas } from "../../api/client";
import { useActions, useKeys, useUsers } from "../../api/queries";
import { useAuth } from "../../auth/AuthProvider";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { OptionSelect } from "../../components/EntitySelect";
import { formatTime } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { SectionCard } from "../../components/SectionCard";
import { ErrorState, QueryView } from "../../components/States";
import { StatusChip } from "../../components/StatusChip";

const ROLES: Schemas["Role"][] = ["viewer", "operator", "admin"];

function KeysCard() {
  const keys = useKeys();
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [created, setCreated] = useState<Schemas["NewKeyResponse"] | null>(null);
  const [revoking, setRevoking] = useState<Schemas["ApiKey"] | null>(null);
  const create = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/keys", { body: { name: name.trim() } })),
    onSuccess: (key) => {
      setCreated(key);
      setName("");
      void queryClient.invalidateQueries({ queryKey: ["keys"] });
    },
  });
  const revoke = useMutation({
    mutationFn: (key: Schemas["ApiKey"]) => unwrap(api.POST("/api/v1/keys/{key}/revoke", { params: { path: { key: String(key.id) } } })),
    onSuccess: () => {
      setRevoking(null);
      void queryClient.invalidateQueries({ queryKey: ["keys"] });
    },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    if (name.trim()) create.mutate();
  }
  return (
    <SectionCard title="Webhook API keys">
      <Box component="form" onSubmit={submit} sx={{ display: "flex", gap: 1, mb: 2 }} aria-label="Create an API key">
        <TextField size="small" label="New key's name" value={name} onChange={(event) => setName(event.target.value)} />
        <Button type="submit" variant="contained" disabled={!name.trim() || create.isPending}>
          Create
        </Button>
      </Box>
      {create.isError ? <ErrorState error={create.error} /> : null}
      {created ? (
        <Alert severity="success" onClose={() => setCreated(null)} sx={{ mb: 2 }}>
          Key <strong>{created.name}</strong> created. Copy it now; it is not shown again:
          <Box component="code" sx={{ display: "block", mt: 1, wordBreak: "break-all" }} aria-label="New API key">
            {created.key}
          </Box>
        </Alert>
      ) : null}
      <QueryView query={keys}>
        {(data) =>
          data.length === 0 ? (
            <Typography color="text.secondary">No key yet: webhooks need one (header X-TDS-Key).</Typography>
          ) : (
            <Box sx={{ overflowX: "auto" }}>
              <Table size="small" aria-label="API keys">
                <TableHead>
                  <TableRow>
                    <TableCell>Name</TableCell>
                    <TableCell>Prefix</TableCell>
                    <TableCell>Last used</TableCell>
                    <TableCell>State</TableCell>
                    <TableCell />
                  </TableRow>
                </TableHead>
                <TableBody>
                  {data.map((key) => (
                    <TableRow key={key.id}>
                      <TableCell>
                        {key.name}
                        <Typography variant="caption" color="text.secondary" component="div">
                          by {key.created_by}, {formatTime(key.created_at)}
                        </Typography>
                      </TableCell>
                      <TableCell sx={{ fontFamily: "monospace" }}>{key.prefix}</TableCell>
                      <TableCell>{formatTime(key.last_used_at)}</TableCell>
                      <TableCell>
                        <StatusChip status={key.revoked_at ? "revoked" : "active"} />
                      </TableCell>
                      <TableCell align="right">
                        {key.revoked_at ? null : (
                          <Button size="small" color="error" onClick={() => setRevoking(key)} aria-label={`Revoke key ${key.name}`}>
                            Revoke
                          </Button>
                        )}
                      </TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            </Box>
          )
        }
      </QueryView>
      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke key ${revoking?.name ?? ""}?`}
        confirmLabel="Revoke"
        color="error"
        busy={revoke.isPending}
        error={revoke.isError ? revoke.error : null}
        onClose={() => {
          setRevoking(null);
          revoke.reset();
        }}
        onConfirm={() => revoking && revoke.mutate(revoking)}
      >
        Webhooks sent with it are refused (401) from now on.
      </ConfirmDialog>
    </SectionCard>
  );
}

function UsersCard() {
  const users = useUsers();
  const { session } = useAuth();
  const queryClient = useQueryClient();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Schemas["Role"]>("viewer");
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["users"] });
  const create = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/users", { body: { username: username.trim(), password, role } })),
    onSuccess: () => {
      setUsername("");
      setPassword("");
      void refresh();
    },
  });
  const change = useMutation({
    mutationFn: ({ user, body }: { user: string; body: Schemas["UserChange"] }) =>
      unwrap(api.PATCH("/api/v1/users/{username}", { params: { path: { username: user } }, body })),
    onSuccess: () => void refresh(),
  });
  return (
    <SectionCard title="Users">
      <Box
        component="form"
        onSubmit={(event: FormEvent) => {
          event.preventDefault();
          create.mutate();
        }}
        sx={{ display: "flex", gap: 1, mb: 2, flexWrap: "wrap" }}
        aria-label="Create a user"
      >
        <TextField size="small" label="Username" value={username} onChange={(event) => setUsername(event.target.value)} autoComplete="off" />
        <TextField
          size="small"
          label="Password"
          type="password"
          value={password}
          onChange={(event) => setPassword(event.target.value)}
          autoComplete="new-password"
        />
        <OptionSelect label="Role" value={role} options={ROLES} allowAll={false} minWidth={120} onChange={(value) => setRole(value || "viewer")} />
        <Button type="submit" variant="contained" disabled={!username.trim() || !password || create.isPending}>
          Create
        </Button>
      </Box>
      {create.isError ? <ErrorState error={create.error} /> : null}
      {change.isError ? <ErrorState error={change.error} /> : null}
      <QueryView query={users}>
        {(data) => (
          <Box sx={{ overflowX: "auto" }}>
            <Table size="small" aria-label="Users">
              <TableHead>
                <TableRow>
                  <TableCell>User</TableCell>
                  <TableCell>Role</TableCell>
                  <TableCell>Last login</TableCell>
                  <TableCell />
                </TableRow>
              </TableHead>
              <TableBody>
                {data.map((user) => {
                  const self = user.username === session?.username;
                  return (
                    <TableRow key={user.id}>
                      <TableCell>
                        {user.username}
                        {user.disabled_at ? <StatusChip status="disabled" /> : null}
                      </TableCell>
                      <TableCell>
                        <TextField
                          select
                          size="small"
                          value={user.role}
                          disabled={self || change.isPending}
                          onChange={(event) => change.mutate({ user: user.username, body: { role: event.target.value as Schemas["Role"] } })}
                          slotProps={{ htmlInput: { "aria-label": `Role of ${user.username}` } }}
                        >
                          {ROLES.map((name) => (
                            <MenuItem key={name} value={name}>
                              {name}
                            </MenuItem>
                          ))}
                        </TextField>
                      </TableCell>
                      <TableCell>{formatTime(user.last_login_at)}</TableCell>
                      <TableCell align="right">
                        {self ? (
                          <Typography variant="caption" color="text.secondary">
                            you
                          </Typography>
                        ) : (
                          <Button
                            size="small"
                            disabled={change.isPending}
                            onClick={() => change.mutate({ user: user.username, body: { disabled: !user.disabled_at } })}
                          >
                            {user.disabled_at ? "Enable" : "Disable"}
                          </Button>
                        )}
                      </TableCell>
                    </TableRow>
                  );
                })}
              </TableBody>
            </Table>
          </Box>
        )}
      </QueryView>
    </SectionCard>
  );
}

function ActionsCard() {
  const actions = useActions();
  return (
    <SectionCard title="Recent operator actions">
      <QueryView query={actions}>
        {(data) =>
          data.length === 0 ? (
            <Typography color="text.secondary">Nobody has acted yet.</Typography>
          ) : (
            <Box sx={{ overflowX: "auto" }}>
              <Table size="small" aria-label="Operator actions">
                <TableBody>
                  {data.map((action) => (
                    <TableRow key={action.id}>
                      <TableCell sx={{ whiteSpace: "nowrap" }}>{formatTime(action.at)}</TableCell>
                      <TableCell>
                        {action.actor} ({action.role ?? "?"}, {action.via})
                      </TableCell>
                      <TableCell>
                        <code>{action.action}</code> {action.target ?? ""}
                      </TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            </Box>
          )
        }
      </QueryView>
    </SectionCard>
  );
}

export function AccessPage() {
  return (
    <>
      <PageHeader title="Access" subtitle="Admins only: who may send webhooks, who may log in and with which role." />
      <Grid container spacing={2}>
        <Grid size={{ xs: 12, lg: 6 }}>
          <KeysCard />
        </Grid>
        <Grid size={{ xs: 12, lg: 6 }}>
          <UsersCard />
        </Grid>
        <Grid size={12}>
          <ActionsCard />
        </Grid>
      </Grid>
    </>
  );
}
