/** The frame: app bar with the user and logout, and a navigation drawer (a menu on a phone). */
import {
  AppBar,
  Box,
  Button,
  Chip,
  Drawer,
  IconButton,
  List,
  ListItemButton,
  ListItemText,
  Toolbar,
  Typography,
  useMediaQuery,
  useTheme,
} from "@mui/material";
import { useState, type ReactNode } from "react";
import { NavLink, useLocation } from "react-router-dom";

import { useAuth } from "../auth/AuthProvider";
import type { Role } from "../auth/roles";

const DRAWER_WIDTH = 220;

export interface NavItem {
  path: string;
  label: string;
  least: Role;
}

export const NAV: NavItem[] = [
  { path: "/", label: "Overview", least: "viewer" },
  { path: "/queue", label: "Queue", least: "viewer" },
  { path: "/sync", label: "Sync", least: "viewer" },
  { path: "/dead-letters", label: "Dead letters", least: "viewer" },
  { path: "/conflicts", label: "Conflicts", least: "viewer" },
  { path: "/alerts", label: "Alerts", least: "viewer" },
  { path: "/entities", label: "Entities", least: "viewer" },
  { path: "/performance", label: "Performance", least: "viewer" },
  { path: "/configuration", label: "Configuration", least: "viewer" },
  { path: "/access", label: "Access", least: "admin" },
];

function Navigation({ onNavigate }: { onNavigate?: () => void }) {
  const { can } = useAuth();
  const location = useLocation();
  return (
    <List component="nav" aria-label="Pages">
      {NAV.filter((item) => can(item.least)).map((item) => {
        const active = item.path === "/" ? location.pathname === "/" : location.pathname.startsWith(item.path);
        return (
          <ListItemButton
            key={item.path}
            component={NavLink}
            to={item.path}
            selected={active}
            aria-current={active ? "page" : undefined}
            onClick={onNavigate}
          >
            <ListItemText primary={item.label} />
          </ListItemButton>
        );
      })}
    </List>
  );
}

export function Layout({ children }: { children: ReactNode }) {
  const { session, logout } = useAuth();
  const theme = useTheme();
  const wide = useMediaQuery(theme.breakpoints.up("md"));
  const [menuOpen, setMenuOpen] = useState(false);

  return (
    <Box sx={{ display: "flex", minHeight: "100vh" }}>
      <Box
        component="a"
        href="#main"
        sx={{
          position: "absolute",
          left: -9999,
          "&:focus": { left: 8, top: 8, zIndex: 2000, bgcolor: "background.paper", p: 1 },
        }}
      >
        Skip to content
      </Box>
      <AppBar position="fixed" sx={{ zIndex: wide ? theme.zIndex.drawer + 1 : undefined }}>
        <Toolbar sx={{ gap: 1 }}>
          {!wide ? (
            <IconButton
              color="inherit"
              edge="start"
              aria-label="Open the menu"
              aria-expanded={menuOpen}
              onClick={() => setMenuOpen(true)}
            >
              <span aria-hidden style={{ fontSize: 22, lineHeight: 1 }}>
                ☰
              </span>
            </IconButton>
          ) : null}
          <Typography variant="h6" component="div" sx={{ flexGrow: 1, whiteSpace: "nowrap" }}>
            TDS Core
          </Typography>
          {session ? (
            <>
              <Typography variant="body2" sx={{ display: { xs: "none", sm: "block" } }}>
                {session.username}
              </Typography>
              <Chip label={session.role} size="small" sx={{ bgcolor: "primary.light", color: "common.white" }} />
              <Button color="inherit" onClick={logout}>
                Log out
              </Button>
            </>
          ) : null}
        </Toolbar>
      </AppBar>
      {wide ? (
        <Drawer
          variant="permanent"
          sx={{ width: DRAWER_WIDTH, flexShrink: 0, "& .MuiDrawer-paper": { width: DRAWER_WIDTH } }}
        >
          <Toolbar />
          <Navigation />
        </Drawer>
      ) : (
        <Drawer open={menuOpen} onClose={() => setMenuOpen(false)} sx={{ "& .MuiDrawer-paper": { width: DRAWER_WIDTH } }}>
          <Navigation onNavigate={() => setMenuOpen(false)} />
        </Drawer>
      )}
      <Box component="main" id="main" tabIndex={-1} sx={{ flexGrow: 1, minWidth: 0, p: { xs: 2, md: 3 } }}>
        <Toolbar />
        {children}
      </Box>
    </Box>
  );
}
