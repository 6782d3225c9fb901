# app_b (token auth) as a Nomad service job. Variables come from a -var-file the
# deployment writes (roles/app_jobs); by hand:
#   nomad job run -var image=localhost:5000/stackyard/app-b:<tag> app-b.nomad.hcl
variable "image" {
  type        = string
  description = "The app_b image, name:tag (a new tag is a rolling update)."
}
variable "datacenters" {
  type    = list(string)
  default = ["*"]
}
variable "count" {
  type    = number
  default = 2
}
variable "cpu" {
  type    = number
  default = 100
}
variable "memory" {
  type    = number
  default = 256
}
variable "users_volume" {
  type        = string
  default     = "density-users"
  description = "Host volume holding users.db (the client's host_volume, seeded by the deployment)."
}
variable "update" {
  type = object({
    min_healthy_time  = string
    healthy_deadline  = string
    progress_deadline = string
  })
  default = {
    min_healthy_time  = "10s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
  }
}

job "app-b" {
  type        = "service"
  datacenters = var.datacenters

  update {
    max_parallel      = 1
    canary            = 1
    auto_promote      = true
    auto_revert       = true
    health_check      = "checks"
    min_healthy_time  = var.update.min_healthy_time
    healthy_deadline  = var.update.healthy_deadline
    progress_deadline = var.update.progress_deadline
  }

  group "app-b" {
    count = var.count

    network {
      port "http" {
        to = 5001
      }
    }

    volume "users" {
      type      = "host"
      source    = var.users_volume
      read_only = true
    }

    restart {
      attempts = 2
      interval = "5m"
      delay    = "5s"
      mode     = "fail"
    }

    service {
      name     = "app-b"
      provider = "nomad"
      port     = "http"
      tags     = ["density", "auth"]

      check {
        name     = "health"
        type     = "http"
        path     = "/health"
        interval = "5s"
        timeout  = "2s"

        check_restart {
          limit = 3
          grace = "15s"
        }
      }
    }

    task "app-b" {
      driver = "docker"

      config {
        image = var.image
        ports = ["http"]
        # the users table is mounted read-only; nothing else is written but /tmp
        readonly_rootfs = true
        mount {
          type   = "tmpfs"
          target = "/tmp"
          tmpfs_options {
            size = 67108864
          }
        }
      }

      volume_mount {
        volume      = "users"
        destination = "/data"
        read_only   = true
      }

      env {
        DENSITY_USERS_DB = "/data/users.db"
        DENSITY_WORKERS  = "2"
      }

      resources {
        cpu    = var.cpu
        memory = var.memory
      }

      kill_timeout = "20s"
    }
  }
}
