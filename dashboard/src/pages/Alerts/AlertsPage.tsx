/** Alerts: acknowledge, resolve or silence them; the rules, silences and who is on call. */
import {
  Box,
  Button,
  Grid,
  Paper,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  TextField,
  Typography,
} from "@mui/material";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";

import { api, unwrap, type Schemas } from "../../api/client";
import { useAlert, useAlertRules, useAlerts, useOnCall, useSilences, type AlertFilter } from "../../api/queries";
import { RequireRole } from "../../auth/AuthProvider";
import { CodeBlock } from "../../components/CodeBlock";
import { ConfirmDialog, NoteField } from "../../components/ConfirmDialog";
import { DetailDialog } from "../../components/DetailDialog";
import { OptionSelect } from "../../components/EntitySelect";
import { formatTime } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { SectionCard } from "../../components/SectionCard";
import { EmptyState, QueryView } from "../../components/States";
import { StatusChip } from "../../components/StatusChip";

type Status = NonNullable<AlertFilter["status"]>;
type Action = "ack" | "resolve" | "silence";
const STATUSES: Status[] = ["open", "acknowledged", "silenced", "resolved"];
const VERB: Record<Action, string> = { ack: "Acknowledge", resolve: "Resolve", silence: "Silence" };
const EFFECT: Record<Action, string> = {
  ack: "Escalation stops; the alert stays until its condition clears or you resolve it.",
  resolve: "The alert closes now; it opens again if the condition is still there.",
  silence: "No notification for this alert's fingerprint until the silence ends.",
};

function AlertDetails({ alertId, onClose }: { alertId: number | null; onClose: () => void }) {
  const alert = useAlert(alertId);
  return (
    <DetailDialog open={alertId !== null} title={`Alert #${alertId}`} titleId="alert-detail-title" onClose={onClose}>
      <QueryView query={alert}>
        {(data) => (
          <Box sx={{ display: "grid", gap: 2 }}>
            <Typography>{data.message}</Typography>
            <Typography variant="body2" color="text.secondary">
              Rule {data.rule} · fingerprint <code>{data.fingerprint}</code> · seen {data.occurrences} time(s), first{" "}
              {formatTime(data.first_seen_at)}, last {formatTime(data.last_seen_at)} · escalation level{" "}
              {data.escalation_level}
              {data.acknowledged_by ? ` · acknowledged by ${data.acknowledged_by}` : ""}
              {data.note ? ` · note: ${data.note}` : ""}
            </Typography>
            <CodeBlock value={data.details} label="Alert details" maxHeight={200} />
            <Typography variant="subtitle1" component="h3">
              Notifications
            </Typography>
            {data.deliveries.length === 0 ? (
              <Typography color="text.secondary">No notification was sent (no channel configured).</Typography>
            ) : (
              <Table size="small" aria-label="Notifications">
                <TableHead>
                  <TableRow>
                    <TableCell>Channel</TableCell>
                    <TableCell>Why</TableCell>
                    <TableCell>Status</TableCell>
                    <TableCell>Sent</TableCell>
                    <TableCell>Error</TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {data.deliveries.map((delivery) => (
                    <TableRow key={delivery.id}>
                      <TableCell>
                        {delivery.channel} ({delivery.channel_type}){delivery.recipient ? ` → ${delivery.recipient}` : ""}
                      </TableCell>
                      <TableCell>
                        {delivery.reason}, level {delivery.level}
                      </TableCell>
                      <TableCell>
                        <StatusChip status={delivery.status} />
                      </TableCell>
                      <TableCell>{formatTime(delivery.sent_at)}</TableCell>
                      <TableCell>{delivery.last_error ?? "—"}</TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            )}
          </Box>
        )}
      </QueryView>
    </DetailDialog>
  );
}

function ActionDialog({
  target,
  onClose,
}: {
  target: { alert: Schemas["AlertOut"]; action: Action } | null;
  onClose: () => void;
}) {
  const queryClient = useQueryClient();
  const [note, setNote] = useState("");
  const [minutes, setMinutes] = useState("60");
  const act = useMutation({
    mutationFn: ({ alert, action }: { alert: Schemas["AlertOut"]; action: Action }) => {
      const path = { alert_id: alert.id };
      if (action === "ack") return unwrap(api.POST("/api/v1/alerts/{alert_id}/ack", { params: { path }, body: { note: note || null } }));
      if (action === "resolve")
        return unwrap(api.POST("/api/v1/alerts/{alert_id}/resolve", { params: { path }, body: { note: note || null } }));
      return unwrap(
        api.POST("/api/v1/alerts/{alert_id}/silence", { params: { path }, body: { minutes: Number(minutes), reason: note } }),
      );
    },
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["alerts"] });
      setNote("");
      onClose();
    },
  });
  if (!target) return null;
  const minutesValid = /^\d+$/.test(minutes) && Number(minutes) >= 1;
  const silence = target.action === "silence";
  return (
    <ConfirmDialog
      open
      title={`${VERB[target.action]} alert #${target.alert.id}?`}
      confirmLabel={VERB[target.action]}
      busy={act.isPending}
      confirmDisabled={silence && (note.trim() === "" || !minutesValid)}
      error={act.isError ? act.error : null}
      onClose={() => {
        act.reset();
        onClose();
      }}
      onConfirm={() => act.mutate(target)}
    >
      <Typography sx={{ mb: 2 }}>
        {target.alert.title}. {EFFECT[target.action]}
      </Typography>
      {silence ? (
        <TextField
          label="Minutes"
          value={minutes}
          onChange={(event) => setMinutes(event.target.value)}
          error={!minutesValid}
          helperText={minutesValid ? " " : "A whole number of minutes, at least 1"}
          size="small"
          sx={{ mb: 1 }}
          slotProps={{ htmlInput: { inputMode: "numeric" } }}
        />
      ) : null}
      <NoteField value={note} onChange={setNote} required={silence} label={silence ? "Reason (required)" : undefined} />
    </ConfirmDialog>
  );
}

function AlertTable({ alerts, onOpen, onAct }: {
  alerts: Schemas["AlertOut"][];
  onOpen: (id: number) => void;
  onAct: (alert: Schemas["AlertOut"], action: Action) => void;
}) {
  return (
    <TableContainer component={Paper} variant="outlined">
      <Table size="small" aria-label="Alerts">
        <TableHead>
          <TableRow>
            <TableCell>Alert</TableCell>
            <TableCell>Severity</TableCell>
            <TableCell>Status</TableCell>
            <TableCell>Last seen</TableCell>
            <TableCell align="right">Actions</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {alerts.map((alert) => (
            <TableRow key={alert.id} hover>
              <TableCell>
                <Button variant="text" size="small" onClick={() => onOpen(alert.id)} sx={{ textAlign: "left", textTransform: "none", p: 0 }}>
                  #{alert.id} {alert.title}
                </Button>
                <Typography variant="caption" color="text.secondary" component="div">
                  {alert.rule} · {alert.occurrences}× since {formatTime(alert.first_seen_at)}
                  {alert.acknowledged_by ? ` · acked by ${alert.acknowledged_by}` : ""}
                  {alert.silenced_until ? ` · silenced until ${formatTime(alert.silenced_until)}` : ""}
                </Typography>
              </TableCell>
              <TableCell>
                <StatusChip status={alert.severity} />
              </TableCell>
              <TableCell>
                <StatusChip status={alert.status} />
              </TableCell>
              <TableCell sx={{ whiteSpace: "nowrap" }}>{formatTime(alert.last_seen_at)}</TableCell>
              <TableCell align="right" sx={{ whiteSpace: "nowrap" }}>
                {alert.status !== "resolved" ? (
                  <RequireRole least="operator">
                    {alert.status === "open" ? (
                      <Button size="small" onClick={() => onAct(alert, "ack")} aria-label={`Acknowledge alert ${alert.id}`}>
                        Acknowledge
                      </Button>
                    ) : null}
                    <Button size="small" onClick={() => onAct(alert, "resolve")} aria-label={`Resolve alert ${alert.id}`}>
                      Resolve
                    </Button>
                    <Button size="small" onClick={() => onAct(alert, "silence")} aria-label={`Silence alert ${alert.id}`}>
                      Silence
                    </Button>
                  </RequireRole>
                ) : null}
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </TableContainer>
  );
}

function OnCallCard() {
  const onCall = useOnCall();
  return (
    <SectionCard title="On call now">
      <QueryView query={onCall}>
        {(data) =>
          data.levels.length === 0 ? (
            <Typography color="text.secondary">
              No rotation is configured (set <code>alerts.oncall</code> in Configuration).
            </Typography>
          ) : (
            <Box component="ol" sx={{ m: 0, pl: 2.5 }}>
              {data.levels.map((shift) => (
                <li key={shift.level}>
                  <Typography variant="body2">
                    <strong>{shift.member?.name ?? "nobody"}</strong> (level {shift.level}) via {shift.channels.join(", ") || "—"}, until{" "}
                    {formatTime(shift.ends_at)}
                  </Typography>
                </li>
              ))}
            </Box>
          )
        }
      </QueryView>
      <Typography variant="caption" color="text.secondary">
        {onCall.data ? `${onCall.data.rotation} rotation; unacknowledged alerts escalate after ${onCall.data.escalate_after_minutes} min` : ""}
      </Typography>
    </SectionCard>
  );
}

function SilencesCard() {
  const silences = useSilences();
  const queryClient = useQueryClient();
  const end = useMutation({
    mutationFn: (id: number) => unwrap(api.DELETE("/api/v1/alerts/silences/{silence_id}", { params: { path: { silence_id: id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["alerts"] }),
  });
  return (
    <SectionCard title="Silences">
      <QueryView query={silences}>
        {(data) =>
          data.length === 0 ? (
            <Typography color="text.secondary">Nothing is silenced.</Typography>
          ) : (
            <Table size="small" aria-label="Silences">
              <TableBody>
                {data.map((silence) => (
                  <TableRow key={silence.id}>
                    <TableCell>
                      {silence.rule ?? silence.fingerprint ?? "?"}: {silence.reason}
                      <Typography variant="caption" color="text.secondary" component="div">
                        by {silence.created_by} until {formatTime(silence.ends_at)}
                      </Typography>
                    </TableCell>
                    <TableCell align="right">
                      <RequireRole least="operator">
                        <Button size="small" disabled={end.isPending} onClick={() => end.mutate(silence.id)}>
                          End
                        </Button>
                      </RequireRole>
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          )
        }
      </QueryView>
    </SectionCard>
  );
}

function RulesCard() {
  const rules = useAlertRules();
  return (
    <SectionCard title="Rules">
      <QueryView query={rules}>
        {(data) => (
          <Box sx={{ overflowX: "auto" }}>
            <Table size="small" aria-label="Alert rules">
              <TableHead>
                <TableRow>
                  <TableCell>Rule</TableCell>
                  <TableCell>Severity</TableCell>
                  <TableCell>Thresholds</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {data.map((rule) => (
                  <TableRow key={rule.rule}>
                    <TableCell>
                      <code>{rule.rule}</code>
                      <Typography variant="caption" color="text.secondary" component="div">
                        {rule.description}
                      </Typography>
                    </TableCell>
                    <TableCell>
                      <StatusChip status={rule.severity} />
                    </TableCell>
                    <TableCell sx={{ fontSize: 12 }}>
                      {Object.entries(rule.thresholds)
                        .map(([key, value]) => `${key} = ${String(value)}`)
                        .join(", ")}
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </Box>
        )}
      </QueryView>
    </SectionCard>
  );
}

export function AlertsPage() {
  const [status, setStatus] = useState<Status | "">("open");
  const alerts = useAlerts({ status: status || undefined, limit: 100 });
  const [detail, setDetail] = useState<number | null>(null);
  const [target, setTarget] = useState<{ alert: Schemas["AlertOut"]; action: Action } | null>(null);
  return (
    <>
      <PageHeader
        title="Alerts"
        subtitle="Raised by the rules below every few seconds; notifications go to the on-call rotation."
        actions={<OptionSelect label="Status" value={status} options={STATUSES} onChange={setStatus} />}
      />
      <Grid container spacing={2}>
        <Grid size={{ xs: 12, lg: 8 }}>
          <QueryView query={alerts} loadingLabel="Loading alerts…">
            {(data) =>
              data.length === 0 ? (
                <EmptyState title={status === "open" ? "No open alerts" : "No alerts"}>
                  {status === "open" ? "All quiet. Pick another status to see older alerts." : "Nothing matches."}
                </EmptyState>
              ) : (
                <AlertTable alerts={data} onOpen={setDetail} onAct={(alert, action) => setTarget({ alert, action })} />
              )
            }
          </QueryView>
        </Grid>
        <Grid size={{ xs: 12, lg: 4 }} sx={{ display: "grid", gap: 2, alignContent: "start" }}>
          <OnCallCard />
          <SilencesCard />
        </Grid>
        <Grid size={12}>
          <RulesCard />
        </Grid>
      </Grid>
      <AlertDetails alertId={detail} onClose={() => setDetail(null)} />
      <ActionDialog target={target} onClose={() => setTarget(null)} />
    </>
  );
}
