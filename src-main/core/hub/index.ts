// core/hub: model repositories from the Hugging Face Hub (or a server that answers like it) into a local folder.
export {
  type DownloadedFile,
  downloadModel,
  type HubDownloadOptions,
  type HubDownloadResult,
  HubError,
  type HubErrorCode,
  wantedFile,
} from './download'
