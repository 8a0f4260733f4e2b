import { Alert, Box, Button, Card, CardContent, TextField, Typography } from "@mui/material";
import { useState, type FormEvent } from "react";

import { ApiError } from "../../api/client";
import { useAuth } from "../../auth/AuthProvider";

export function LoginPage() {
  const { login, notice } = useAuth();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(username.trim(), password);
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 401) setError("Wrong username or password.");
      else if (exc instanceof ApiError && exc.status === 429) setError("Too many attempts: wait a minute and try again.");
      else setError(exc instanceof Error ? exc.message : "Login failed.");
    } finally {
      setBusy(false);
    }
  }

  return (
    <Box
      component="main"
      sx={{ minHeight: "100vh", display: "grid", placeItems: "center", bgcolor: "grey.100", p: 2 }}
    >
      <Card sx={{ width: "100%", maxWidth: 400 }}>
        <CardContent>
          <Typography variant="h5" component="h1" gutterBottom>
            TDS Core
          </Typography>
          <Typography variant="body2" color="text.secondary" sx={{ mb: 2 }}>
            Log in to watch and operate the Zoho Books sync.
          </Typography>
          {notice && !error ? (
            <Alert severity="info" sx={{ mb: 2 }}>
              {notice}
            </Alert>
          ) : null}
          {error ? (
            <Alert severity="error" sx={{ mb: 2 }} role="alert">
              {error}
            </Alert>
          ) : null}
          <Box component="form" onSubmit={(event) => void submit(event)} noValidate aria-label="Log in">
            <TextField
              label="Username"
              name="username"
              autoComplete="username"
              value={username}
              onChange={(event) => setUsername(event.target.value)}
              required
              fullWidth
              margin="normal"
              autoFocus
            />
            <TextField
              label="Password"
              name="password"
              type="password"
              autoComplete="current-password"
              value={password}
              onChange={(event) => setPassword(event.target.value)}
              required
              fullWidth
              margin="normal"
            />
            <Button
              type="submit"
              variant="contained"
              fullWidth
              sx={{ mt: 2 }}
              disabled={busy || username.trim() === "" || password === ""}
            >
              {busy ? "Logging in…" : "Log in"}
            </Button>
          </Box>
        </CardContent>
      </Card>
    </Box>
  );
}
