// IPC channel names shared by the main process and the preload: one for the whole service contract, one for
// desktop-shell requests (folder dialog, notification), one for menu commands sent to the window.
export const API_CHANNEL = 'shardpress:api'
export const DESKTOP_CHANNEL = 'shardpress:desktop'
export const MENU_CHANNEL = 'shardpress:menu'
